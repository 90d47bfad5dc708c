package org.berth.driver.docker;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import java.util.Map;
import java.util.UUID;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageStore;

/**
 * Snapshot = {@code docker commit} (the engine pauses a running container meanwhile, so the instance ends in the
 * state it had) + {@code docker save} of the new image id into a temporary file + {@link ImageStore#add}. The
 * committed image is removed from the engine afterwards: the store holds the snapshot, and spawning it loads
 * the tarball like any other image.
 */
final class Snapshotter {
    private final Engine engine;
    private final ImageStore store;
    private final Path workDir;
    private final Duration saveTimeout;

    Snapshotter(Engine engine, ImageStore store, Path workDir, Duration saveTimeout) {
        this.engine = engine;
        this.store = store;
        this.workDir = workDir;
        this.saveTimeout = saveTimeout;
    }

    Image snapshot(UUID uuid, String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("imageName: must be given");
        }
        var c = engine.require(uuid);
        String committed = engine.call("commit", uuid, () -> {
            var commit = engine.client().commitCmd(c.getId()).withPause(true).withMessage("berth snapshot of " + uuid);
            withoutMetadata(c.getConfig().getEnv()).ifPresent(commit::withEnv);
            // the spec label holds the guest config (user data, keys, metadata): an image keeps no secret of the
            // instance it was taken from. Blanked, not dropped (the engine merges unnamed labels back); an instance
            // spawned from the image gets a spec label of its own
            commit.withLabels(Map.of(SpecLabels.SPEC_LABEL, ""));
            return commit.exec();
        });
        String engineId = scrubbed(uuid, committed);
        Path tmp = null;
        try {
            tmp = Files.createTempFile(workDir, "snapshot-", ".tar");
            save(engineId, tmp);
            return store.add(name, DiskFormat.RAW, ContainerFormat.DOCKER, tmp,
                    Map.of("docker_image_id", engineId, "instance_uuid", uuid.toString()));
        } catch (IOException e) {
            throw new DriverException.BackendFailure(Engine.BACKEND, "save snapshot", e.getMessage(), e);
        } finally {
            try {
                if (tmp != null) {
                    Files.deleteIfExists(tmp);
                }
            } catch (IOException e) {
                // A leftover temp file in the state dir is harmless; the snapshot result matters more.
            }
            try {
                engine.run("remove image", null, () -> engine.client().removeImageCmd(engineId).exec());
            } catch (DriverException e) {
                // Still used by a container spawned from an identical image: the engine keeps it, as it should.
            }
        }
    }

    /**
     * The committed image once more, committed from a never-started container of it: the engine (20.10) records the
     * committing container's whole configuration in the image as {@code container_config}, the instance's
     * environment and spec label (user data, keys) included, and {@code docker save} writes it out. Committed from a
     * container of the cleaned image, that record holds only the cleaned configuration (the first image's own config
     * is not saved: a parent layer gets a minimal one). The first image goes with the second when it is removed.
     */
    private String scrubbed(UUID uuid, String committed) {
        String container = null;
        try {
            String created = engine.call("create", uuid, () -> engine.client().createContainerCmd(committed).exec()
                    .getId());
            container = created;
            return engine.call("commit", uuid, () -> engine.client().commitCmd(created).withPause(false)
                    .withMessage("berth snapshot of " + uuid).exec());
        } catch (RuntimeException e) {
            try {
                engine.run("remove image", null, () -> engine.client().removeImageCmd(committed).withForce(true).exec());
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        } finally {
            if (container != null) {
                String id = container;
                engine.run("remove container", null, () -> engine.client().removeContainerCmd(id).withForce(true)
                        .exec());
            }
        }
    }

    /**
     * The environment to commit when the container has {@link GuestEnvironment} variables: those emptied. The image
     * would otherwise carry this instance's metadata into every instance spawned from the snapshot (Nova's snapshot
     * is the disk, not the server's metadata). Emptied, not dropped: the engine merges every variable of the
     * container the commit does not name back into the image, and there is no way to unset one.
     */
    static Optional<String[]> withoutMetadata(String[] env) {
        if (env == null || Arrays.stream(env).noneMatch(v -> v.startsWith(GuestEnvironment.PREFIX))) {
            return Optional.empty();
        }
        return Optional.of(Arrays.stream(env)
                .map(v -> v.startsWith(GuestEnvironment.PREFIX) && v.indexOf('=') > 0
                        ? v.substring(0, v.indexOf('=')) + "=" : v)
                .toArray(String[]::new));
    }

    /** Streams {@code docker save} into {@code target}, giving up after {@code saveTimeout} in total. */
    private void save(String engineId, Path target) {
        engine.call("save", null, saveTimeout, () -> {
            try (InputStream in = engine.client().saveImageCmd(engineId).exec();
                 OutputStream out = Files.newOutputStream(target)) {
                in.transferTo(out);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return null;
        });
    }
}
