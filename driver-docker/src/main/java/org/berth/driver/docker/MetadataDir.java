package org.berth.driver.docker;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Stream;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.berth.metadata.MetadataDocuments;
import org.berth.metadata.MetadataFile;

/**
 * An instance's config-drive documents ({@link MetadataDocuments}) as a host directory,
 * {@code <state_dir>/metadata/<container name>.metadata} (named after the container, e.g. {@code berth-<uuid>.metadata}, so two
 * drivers with different {@code container_name_prefix}es never share one), bind-mounted read-only at {@value #MOUNT_POINT} inside the container. A
 * directory rather than a copy into the container: a read-only mount stops even the container's root from writing,
 * and a file replaced by rename in a mounted directory is seen at once, so hot-plug can rewrite network_data.json of
 * a running container. Files are 0444, directories 0555 (what the container's users see); their parent
 * {@code <state_dir>/metadata} is 0700, so on the host only root reads user data and keys. The engine must see the
 * host's file system (a local engine).
 */
final class MetadataDir {
    /** Where the container sees the tree: {@code /run/berth/metadata/openstack/latest/meta_data.json}. */
    static final String MOUNT_POINT = "/run/berth/metadata";
    private static final String SUFFIX = ".metadata";
    private static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("r--r--r--");
    private static final Set<PosixFilePermission> DIR = PosixFilePermissions.fromString("r-xr-xr-x");
    private static final Set<PosixFilePermission> OPEN_DIR = PosixFilePermissions.fromString("rwxr-xr-x");
    private static final Set<PosixFilePermission> PRIVATE = PosixFilePermissions.fromString("rwx------");

    private final Path stateDir;
    private final Function<UUID, String> containerName;

    MetadataDir(Path stateDir, Function<UUID, String> containerName) {
        this.stateDir = stateDir.toAbsolutePath().resolve("metadata");
        this.containerName = containerName;
    }

    /** A container gets the files unless the spec says {@code config_drive: false}. */
    static boolean wanted(InstanceSpec spec) {
        return spec.guest().configDriveOr(true);
    }

    Path path(UUID uuid) {
        return stateDir.resolve(containerName.apply(uuid) + SUFFIX);
    }

    boolean exists(UUID uuid) {
        return Files.isDirectory(path(uuid));
    }

    /**
     * Writes the whole tree into a staging directory and renames it into place, so the directory is either complete
     * or absent. Fails if the instance has one already.
     */
    void create(InstanceSpec spec) {
        Path target = path(spec.uuid());
        Path staging = null;
        try {
            if (!Files.isDirectory(stateDir)) {
                Files.createDirectories(stateDir);
            }
            Files.setPosixFilePermissions(stateDir, PRIVATE);
            staging = Files.createTempDirectory(stateDir, target.getFileName() + ".tmp-");
            for (MetadataFile f : MetadataDocuments.of(spec)) {
                Path file = staging.resolve(f.path());
                Files.createDirectories(file.getParent());
                Files.write(file, f.content());
                Files.setPosixFilePermissions(file, FILE);
            }
            setDirs(staging, DIR);
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (staging != null) {
                deleteTree(staging, null);
            }
            throw new DriverException.BackendFailure(Engine.BACKEND, "write metadata", target + ": " + e, e);
        }
    }

    /** Creates the tree if it is missing (a state directory restored without it), so the container can start. */
    void ensure(InstanceSpec spec) {
        if (wanted(spec) && !exists(spec.uuid())) {
            create(spec);
        }
    }

    /**
     * Rewrites network_data.json of every version for the instance's VIFs now, each atomically (a temporary file in
     * the same directory renamed over it): a reader sees the old file or the new one. Nothing when the instance
     * has no directory ({@code config_drive: false}).
     */
    void rewriteNetwork(InstanceSpec spec) {
        Path root = path(spec.uuid());
        if (!Files.isDirectory(root)) {
            return;
        }
        List<MetadataFile> network = MetadataDocuments.of(spec).stream()
                .filter(f -> f.path().endsWith("/network_data.json")).toList();
        for (MetadataFile f : network) {
            Path file = root.resolve(f.path());
            Path dir = file.getParent();
            Path tmp = dir.resolve(".network_data.json.tmp");
            try {
                Files.setPosixFilePermissions(dir, OPEN_DIR); // a non-root agent needs w on the 0555 directory
                try {
                    Files.deleteIfExists(tmp);
                    Files.write(tmp, f.content());
                    Files.setPosixFilePermissions(tmp, FILE);
                    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } finally {
                    Files.setPosixFilePermissions(dir, DIR);
                }
            } catch (IOException e) {
                throw new DriverException.BackendFailure(Engine.BACKEND, "write metadata", file + ": " + e, e);
            }
        }
    }

    /** Removes the instance's directory and any staging directory a crash left; errors go to {@code failure}. */
    void remove(UUID uuid, RuntimeException failure) {
        if (!Files.isDirectory(stateDir)) {
            return; // no instance of this driver ever had one
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(stateDir, path(uuid).getFileName() + "*")) {
            for (Path d : dirs) {
                deleteTree(d, failure);
            }
        } catch (IOException e) {
            report(new DriverException.BackendFailure(Engine.BACKEND, "remove metadata", stateDir + ": " + e, e),
                    failure);
        }
    }

    private static void deleteTree(Path root, RuntimeException failure) {
        try {
            setDirs(root, OPEN_DIR); // deleting entries of a 0555 directory needs w (unless root)
            try (Stream<Path> all = Files.walk(root)) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            report(new DriverException.BackendFailure(Engine.BACKEND, "remove metadata", root + ": " + e, e), failure);
        }
    }

    private static void report(RuntimeException e, RuntimeException failure) {
        if (failure == null) {
            throw e;
        }
        failure.addSuppressed(e);
    }

    private static void setDirs(Path root, Set<PosixFilePermission> mode) throws IOException {
        if (!Files.isDirectory(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path d : all.filter(p -> Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)).toList()) {
                Files.setPosixFilePermissions(d, mode);
            }
        }
    }
}
