package org.berth.driver.kvm;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageStore;

/**
 * The cache of base images under {@code stateDir/_base/<image id>}: copied once from the {@link ImageStore},
 * SHA-256 verified on the way in, readable by the QEMU user. Removal is explicit only ({@link #removeUnused}),
 * never a side effect of destroy.
 */
final class BaseImages {
    private final Path dir;
    private final ImageStore images;
    private final ConcurrentHashMap<String, Object> locks = new ConcurrentHashMap<>();

    BaseImages(Path stateDir, ImageStore images) {
        this.dir = stateDir.resolve("_base");
        this.images = images;
    }

    /** The verified local base of {@code image}, copying it on first use. */
    Path fetch(Image image) {
        Path base = dir.resolve(image.id());
        synchronized (locks.computeIfAbsent(image.id(), k -> new Object())) {
            try {
                if (Files.exists(base)) {
                    Files.setLastModifiedTime(base, FileTime.from(Instant.now()));
                    return base;
                }
                InstanceFiles.createReadableDir(dir);
                Path source = images.file(image.id());
                Path tmp = Files.createTempFile(dir, ".fetch-", ".part");
                try {
                    String sha = copy(source, tmp);
                    if (!sha.equals(image.sha256())) {
                        throw new DriverException.ImageInvalid(image.id(),
                                "sha256 mismatch: expected " + image.sha256() + ", file has " + sha);
                    }
                    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
                    try {
                        Files.move(tmp, base, StandardCopyOption.ATOMIC_MOVE);
                    } catch (AtomicMoveNotSupportedException e) {
                        Files.move(tmp, base, StandardCopyOption.REPLACE_EXISTING);
                    }
                } finally {
                    Files.deleteIfExists(tmp);
                }
                return base;
            } catch (IOException e) {
                throw new DriverException.ImageInvalid(image.id(), "cannot copy to the base cache: " + e.getMessage());
            }
        }
    }

    private static String copy(Path source, Path target) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream in = Files.newInputStream(source);
             OutputStream out = new DigestOutputStream(Files.newOutputStream(target), digest)) {
            in.transferTo(out);
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /**
     * Deletes bases that no instance uses and that were last used more than {@code minAge} ago
     * (Nova's remove_unused_base_images). Explicit only.
     *
     * @param inUse image ids of every instance on this host (root, kernel and ramdisk images)
     * @return the removed image ids
     */
    List<String> removeUnused(Set<String> inUse, Duration minAge) {
        List<String> removed = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return removed;
        }
        Instant cutoff = Instant.now().minus(minAge);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String id = f.getFileName().toString();
                if (id.startsWith(".") || inUse.contains(id)) {
                    continue;
                }
                synchronized (locks.computeIfAbsent(id, k -> new Object())) {
                    if (Files.getLastModifiedTime(f).toInstant().isBefore(cutoff) && Files.deleteIfExists(f)) {
                        removed.add(id);
                    }
                }
            }
        } catch (IOException e) {
            throw new DriverException.BackendFailure("berth", "remove unused base images", e.getMessage(), e);
        }
        return removed;
    }
}
