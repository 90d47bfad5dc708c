package org.berth.conformance.images;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageStore;

/**
 * An {@link ImageStore} over directories of {@code <name>.json} manifests as written by {@code images/build.sh}:
 * a read-only directory of built test images plus a writable directory where snapshots go.
 * Glance's top-level {@code kernel_id}/{@code ramdisk_id} fields become image properties.
 */
public final class ManifestImageStore implements ImageStore {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path writableDir;
    private final Map<String, Entry> images = new ConcurrentHashMap<>();

    private record Entry(Image image, Path file, Path manifest, boolean writable) {
    }

    private ManifestImageStore(Path writableDir) {
        this.writableDir = writableDir;
    }

    /**
     * Reads the manifests in {@code readOnlyDirs} (missing directories are skipped) and those already in
     * {@code writableDir}, which is created if needed.
     */
    public static ManifestImageStore open(List<Path> readOnlyDirs, Path writableDir) {
        var store = new ManifestImageStore(writableDir);
        try {
            Files.createDirectories(writableDir);
            for (Path dir : readOnlyDirs) {
                store.scan(dir, false);
            }
            store.scan(writableDir, true);
        } catch (IOException e) {
            throw new UncheckedIOException("image store: cannot read " + readOnlyDirs + " / " + writableDir, e);
        }
        return store;
    }

    private void scan(Path dir, boolean writable) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
            for (Path manifest : ds) {
                if (manifest.getFileName().toString().equals("index.json")) {
                    continue;
                }
                Entry e = parse(manifest, writable);
                images.put(e.image().id(), e);
            }
        }
    }

    private static Entry parse(Path manifest, boolean writable) throws IOException {
        JsonNode n = JSON.readTree(manifest.toFile());
        Map<String, String> props = new LinkedHashMap<>();
        n.path("properties").fields().forEachRemaining(f -> props.put(f.getKey(), f.getValue().asText()));
        for (String link : List.of(Image.KERNEL_ID, Image.RAMDISK_ID)) {
            if (n.hasNonNull(link)) {
                props.put(link, n.get(link).asText());
            }
        }
        String disk = n.path("disk_format").isNull() || n.path("disk_format").isMissingNode()
                ? "raw" : n.get("disk_format").asText();
        try {
            Image image = new Image(n.path("id").asText(), n.path("name").asText(), DiskFormat.ofGlanceName(disk),
                    ContainerFormat.ofGlanceName(n.path("container_format").asText()), n.path("sha256").asText(),
                    n.path("size").asLong(), props);
            Path file = manifest.getParent().resolve(n.path("file").asText()).normalize();
            return new Entry(image, file, manifest, writable);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("image manifest " + manifest + ": " + e.getMessage(), e);
        }
    }

    @Override
    public Image get(String imageId) {
        return entry(imageId).image();
    }

    private Entry entry(String imageId) {
        Entry e = imageId == null ? null : images.get(imageId);
        if (e == null) {
            throw new DriverException.ImageNotFound(String.valueOf(imageId));
        }
        return e;
    }

    @Override
    public List<Image> list() {
        return new ArrayList<>(images.values().stream().map(Entry::image).toList());
    }

    @Override
    public Path file(String imageId) {
        return entry(imageId).file();
    }

    @Override
    public Image add(String name, DiskFormat diskFormat, ContainerFormat containerFormat, Path source,
                     Map<String, String> properties) {
        if (!Files.isRegularFile(source) || !Files.isReadable(source)) {
            throw new DriverException.ImageInvalid(name, "source file " + source + " is not a readable file");
        }
        String id = UUID.randomUUID().toString();
        Path file = writableDir.resolve(id + ".img");
        Path manifest = writableDir.resolve(id + ".json");
        try {
            Files.move(source, file, StandardCopyOption.REPLACE_EXISTING);
            file.toFile().setReadable(true, false);
            String sha = sha256(file);
            Image image = new Image(id, name, diskFormat, containerFormat, sha, Files.size(file), properties);
            ObjectNode n = JSON.createObjectNode();
            n.put("id", id).put("name", name).put("file", file.getFileName().toString()).put("sha256", sha)
                    .put("size", image.size()).put("disk_format", diskFormat.glanceName())
                    .put("container_format", containerFormat.glanceName());
            n.set("properties", JSON.valueToTree(properties));
            Path tmp = writableDir.resolve(id + ".json.tmp");
            JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), n);
            Files.move(tmp, manifest, StandardCopyOption.ATOMIC_MOVE);
            images.put(id, new Entry(image, file, manifest, true));
            return image;
        } catch (IOException | RuntimeException e) {
            deleteQuietly(file);
            deleteQuietly(manifest);
            throw new DriverException.ImageInvalid(name, "cannot store the image: " + e.getMessage());
        }
    }

    @Override
    public void delete(String imageId) {
        Entry e = images.get(imageId);
        if (e == null) {
            return;
        }
        if (!e.writable()) {
            throw new DriverException.ImageInvalid(imageId, "is a built test image and read-only in this store");
        }
        images.remove(imageId);
        deleteQuietly(e.manifest());
        deleteQuietly(e.file());
    }

    /** Hex SHA-256 of a file. */
    public static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: a leftover file is reported by the leak check
        }
    }
}
