package org.berth.driver.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.dockerjava.api.exception.NotFoundException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageStore;

/**
 * Loads {@code docker save} tarballs into the engine once, keyed by image id and checksum. The engine image is
 * referenced by the id in the archive's {@code manifest.json} (the sha256 of its config), never by its repo tag,
 * so a snapshot saved under any tag (or none) spawns again.
 */
final class ImageLoader {
    /** The outcome of {@link #ensure}: the engine's image id, and whether this call loaded it. */
    record Loaded(String engineId, boolean loadedNow) {
    }

    private final Engine engine;
    private final ImageStore store;
    /** image id + "@" + sha256 → engine image id, for files already verified. */
    private final Map<String, String> verified = new ConcurrentHashMap<>();
    private final Object loadLock = new Object();

    ImageLoader(Engine engine, ImageStore store) {
        this.engine = engine;
        this.store = store;
    }

    Loaded ensure(Image image) {
        String key = image.id() + "@" + image.sha256();
        String known = verified.get(key);
        if (known != null) {
            return new Loaded(known, false); // trusted: spawn reloads via forget() if the engine lost it
        }
        // One load at a time: parallel spawns of a new image would otherwise upload the same tarball twice.
        synchronized (loadLock) {
            Path file = store.file(image.id());
            String engineId = verify(image, file);
            if (present(engineId)) {
                verified.put(key, engineId);
                return new Loaded(engineId, false);
            }
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
                engine.run("load image " + image.id(), null, () -> engine.client().loadImageCmd(in).exec());
            } catch (IOException e) {
                throw new DriverException.ImageInvalid(image.id(), "cannot read " + file + ": " + e.getMessage());
            }
            if (!present(engineId)) {
                throw new DriverException.ImageInvalid(image.id(),
                        "docker load did not produce image " + engineId + " named in its manifest.json");
            }
            verified.put(key, engineId);
            return new Loaded(engineId, true);
        }
    }

    /** Drops the cached verification, so the next {@link #ensure} checks and loads the file again. */
    void forget(Image image) {
        verified.remove(image.id() + "@" + image.sha256());
    }

    /** Removes an image this driver loaded for a spawn that then failed; kept if anything else uses it. */
    void discard(String engineId) {
        try {
            engine.run("remove image", null, () -> engine.client().removeImageCmd(engineId).exec());
        } catch (DriverException e) {
            // In use by another container, or already gone: either way it is not a leak of this spawn.
        }
    }

    boolean present(String engineId) {
        try {
            engine.call("inspect image", null, () -> engine.client().inspectImageCmd(engineId).exec());
            return true;
        } catch (DriverException.BackendFailure e) {
            if (e.getCause() instanceof NotFoundException) {
                return false;
            }
            throw e;
        }
    }

    /** Checks the file's sha256 against the store's and returns the engine image id its manifest names. */
    private static String verify(Image image, Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
            }
            String actual = HexFormat.of().formatHex(sha.digest());
            if (!actual.equals(image.sha256())) {
                throw new DriverException.ImageInvalid(image.id(),
                        "sha256 of " + file.getFileName() + " is " + actual + ", the image store says " + image.sha256());
            }
        } catch (IOException e) {
            throw new DriverException.ImageInvalid(image.id(), "cannot read " + file + ": " + e.getMessage());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        return engineIdOf(image.id(), file);
    }

    /** {@code sha256:<hex>} from manifest.json's Config ({@code <hex>.json}, or {@code blobs/sha256/<hex>} in OCI layout). */
    static String engineIdOf(String imageId, Path file) {
        try (var tar = new TarArchiveInputStream(new BufferedInputStream(Files.newInputStream(file)))) {
            for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
                if (!e.getName().equals("manifest.json") && !e.getName().equals("./manifest.json")) {
                    continue;
                }
                if (e.getSize() > 16 << 20) {
                    break;
                }
                JsonNode manifest = SpecLabels.json().readTree(tar.readNBytes((int) e.getSize()));
                if (manifest.size() != 1) {
                    throw new DriverException.ImageInvalid(imageId,
                            "manifest.json lists " + manifest.size() + " images, a Berth image holds exactly one");
                }
                String config = manifest.get(0).path("Config").asText();
                String hex = config.substring(config.lastIndexOf('/') + 1).replace(".json", "");
                if (!hex.matches("[0-9a-f]{64}")) {
                    throw new DriverException.ImageInvalid(imageId, "manifest.json Config '" + config + "' is not a sha256");
                }
                return "sha256:" + hex;
            }
        } catch (IOException e) {
            throw new DriverException.ImageInvalid(imageId, "not a docker save archive: " + e.getMessage());
        }
        throw new DriverException.ImageInvalid(imageId, "not a docker save archive: no manifest.json");
    }
}
