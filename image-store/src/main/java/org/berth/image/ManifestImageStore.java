package org.berth.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
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
 * An {@link ImageStore} over {@code <name>.json} manifests (the format of {@code images/build.sh}) in read-only
 * directories (the built test images) plus one owned, writable directory where imports and snapshots go. The host
 * agent and the conformance kit both use it. Glance's top-level {@code kernel_id}/{@code ramdisk_id} fields become
 * image properties. A broken manifest is logged and skipped, never fatal. Thread-safe.
 */
public final class ManifestImageStore implements ImageStore {
    private static final System.Logger LOG = System.getLogger(ManifestImageStore.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private final List<Path> readOnlyDirs;
    private final Path ownDir;
    private final Map<String, Entry> images = new ConcurrentHashMap<>();

    private record Entry(Image image, Path file, Path manifest, boolean writable) {
    }

    private ManifestImageStore(List<Path> readOnlyDirs, Path ownDir) {
        this.readOnlyDirs = List.copyOf(readOnlyDirs);
        this.ownDir = ownDir;
    }

    public static ManifestImageStore open(List<Path> readOnlyDirs, Path ownDir) {
        var store = new ManifestImageStore(readOnlyDirs, ownDir);
        try {
            Files.createDirectories(ownDir);
        } catch (IOException e) {
            throw new UncheckedIOException("image store: cannot create " + ownDir, e);
        }
        store.refresh();
        return store;
    }

    public Path ownDir() {
        return ownDir;
    }

    /** Rescans every directory (images built after the agent started appear; removed ones go). */
    public synchronized void refresh() {
        Map<String, Entry> found = new LinkedHashMap<>();
        for (Path dir : readOnlyDirs) {
            scan(dir, false, found);
        }
        scan(ownDir, true, found);
        images.keySet().retainAll(found.keySet());
        images.putAll(found);
    }

    private static void scan(Path dir, boolean writable, Map<String, Entry> into) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
            for (Path manifest : ds) {
                if (manifest.getFileName().toString().equals("index.json")) {
                    continue;
                }
                try {
                    Entry e = parse(manifest, writable);
                    into.put(e.image().id(), e);
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "image manifest " + manifest + " skipped: " + e.getMessage());
                }
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "image directory " + dir + " unreadable: " + e.getMessage());
        }
    }

    private static Entry parse(Path manifest, boolean writable) throws IOException {
        JsonNode n = JSON.readTree(manifest.toFile());
        Map<String, String> props = new LinkedHashMap<>();
        n.path("properties").properties().forEach(f -> props.put(f.getKey(), f.getValue().asText()));
        for (String link : List.of(Image.KERNEL_ID, Image.RAMDISK_ID)) {
            if (n.hasNonNull(link)) {
                props.put(link, n.get(link).asText());
            }
        }
        String disk = n.hasNonNull("disk_format") ? n.get("disk_format").asText() : "raw";
        Image image = new Image(n.path("id").asText(), n.path("name").asText(), DiskFormat.ofGlanceName(disk),
                ContainerFormat.ofGlanceName(n.path("container_format").asText()), n.path("sha256").asText(),
                n.path("size").asLong(), props);
        Path file = manifest.getParent().resolve(n.path("file").asText()).normalize();
        if (!file.startsWith(manifest.getParent())) {
            throw new IOException("file " + file + " is outside " + manifest.getParent());
        }
        return new Entry(image, file, manifest, writable);
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

    /** Whether the image lives in the agent-owned directory (deletable). */
    public boolean writable(String imageId) {
        return entry(imageId).writable();
    }

    @Override
    public Path file(String imageId) {
        return entry(imageId).file();
    }

    @Override
    public Image add(String name, DiskFormat diskFormat, ContainerFormat containerFormat, Path source,
                     Map<String, String> properties) {
        return add(name, diskFormat, containerFormat, source, properties, null);
    }

    /**
     * As {@link #add}, for a source whose SHA-256 the caller has just computed (an import or upload it verified):
     * the file, possibly many GiB, is not read again. {@code sha256} null means "compute it".
     */
    public Image add(String name, DiskFormat diskFormat, ContainerFormat containerFormat, Path source,
              Map<String, String> properties, String sha256) {
        if (!Files.isRegularFile(source) || !Files.isReadable(source)) {
            throw new DriverException.ImageInvalid(name, "source file " + source + " is not a readable file");
        }
        String id = UUID.randomUUID().toString();
        Path file = ownDir.resolve(id + ".img");
        Path manifest = ownDir.resolve(id + ".json");
        try {
            Files.move(source, file, StandardCopyOption.REPLACE_EXISTING);
            file.toFile().setReadable(true, false);
            String sha = sha256 != null ? sha256 : sha256(file);
            Image image = new Image(id, name, diskFormat, containerFormat, sha, Files.size(file), properties);
            ObjectNode n = JSON.createObjectNode();
            n.put("id", id).put("name", name).put("file", file.getFileName().toString()).put("sha256", sha)
                    .put("size", image.size()).put("disk_format", diskFormat.glanceName())
                    .put("container_format", containerFormat.glanceName());
            n.set("properties", JSON.valueToTree(properties));
            Path tmp = ownDir.resolve(id + ".json.tmp");
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
            throw new DriverException.ImageInvalid(imageId, "is a built image in a read-only directory");
        }
        images.remove(imageId);
        deleteQuietly(e.manifest());
        deleteQuietly(e.file());
    }

    /** Hex SHA-256 of a file, read in 64 KiB blocks. */
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
            // best effort; the next refresh shows what is left
        }
    }
}
