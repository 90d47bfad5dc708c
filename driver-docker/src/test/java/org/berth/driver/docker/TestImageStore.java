package org.berth.driver.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
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
import org.berth.lab.TestImages;

/** A test-scope {@link ImageStore}: the built busybox image from its manifest, plus images added into a temp dir. */
final class TestImageStore implements ImageStore {
    static final Path IMAGES = TestImages.dir();

    private final Map<String, Image> images = new ConcurrentHashMap<>();
    private final Map<String, Path> files = new ConcurrentHashMap<>();
    private final Path dir;

    TestImageStore(Path dir) {
        this.dir = dir;
    }

    /** The busybox image as {@code images/build.sh} describes it (disk_format null = raw, as in Glance). */
    Image busybox() {
        try {
            JsonNode n = new ObjectMapper().readTree(IMAGES.resolve("berth-busybox.json").toFile());
            Map<String, String> props = new LinkedHashMap<>();
            n.path("properties").properties().forEach(e -> props.put(e.getKey(),
                    e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString()));
            Image image = new Image(n.get("id").asText(), n.get("name").asText(), DiskFormat.RAW,
                    ContainerFormat.ofGlanceName(n.get("container_format").asText()), n.get("sha256").asText(),
                    n.get("size").asLong(), props);
            put(image, IMAGES.resolve(n.get("file").asText()));
            return image;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void put(Image image, Path file) {
        images.put(image.id(), image);
        files.put(image.id(), file);
    }

    @Override
    public Image get(String imageId) {
        Image i = images.get(imageId);
        if (i == null) {
            throw new DriverException.ImageNotFound(imageId);
        }
        return i;
    }

    @Override
    public List<Image> list() {
        return new ArrayList<>(images.values());
    }

    @Override
    public Path file(String imageId) {
        get(imageId);
        return files.get(imageId);
    }

    @Override
    public Image add(String name, DiskFormat diskFormat, ContainerFormat containerFormat, Path source,
                     Map<String, String> properties) {
        try {
            String id = UUID.randomUUID().toString();
            Path target = dir.resolve(id + ".img");
            Files.copy(source, target);
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            try (InputStream in = Files.newInputStream(target)) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    sha.update(buf, 0, n);
                }
            }
            Image image = new Image(id, name, diskFormat, containerFormat, HexFormat.of().formatHex(sha.digest()),
                    Files.size(target), properties);
            put(image, target);
            return image;
        } catch (IOException e) {
            throw new DriverException.ImageInvalid(name, "cannot read " + source + ": " + e.getMessage());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void delete(String imageId) {
        images.remove(imageId);
        Path f = files.remove(imageId);
        if (f != null && f.startsWith(dir)) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
