package org.berth.driver.kvm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageStore;

/** Test store: the manifests in /var/cache/berth/images (read-only) plus images added to {@code addedDir}. */
final class ManifestImageStore implements ImageStore {
    private final Map<String, Image> images = new ConcurrentHashMap<>();
    private final Map<String, Path> files = new ConcurrentHashMap<>();
    private final Path addedDir;

    ManifestImageStore(Path manifestDir, Path addedDir) throws IOException {
        this.addedDir = addedDir;
        ObjectMapper json = new ObjectMapper();
        try (DirectoryStream<Path> list = Files.newDirectoryStream(manifestDir, "berth-guest-*.json")) {
            for (Path m : list) {
                JsonNode n = json.readTree(m.toFile());
                Map<String, String> props = new HashMap<>();
                n.path("properties").fields().forEachRemaining(e -> props.put(e.getKey(), e.getValue().asText()));
                if (n.hasNonNull("ramdisk_id")) {
                    props.put(Image.RAMDISK_ID, n.get("ramdisk_id").asText());
                }
                Image image = new Image(n.get("id").asText(), n.get("name").asText(),
                        DiskFormat.ofGlanceName(n.get("disk_format").asText()),
                        ContainerFormat.ofGlanceName(n.get("container_format").asText()),
                        n.get("sha256").asText(), n.get("size").asLong(), props);
                images.put(image.id(), image);
                files.put(image.id(), manifestDir.resolve(n.get("file").asText()));
            }
        }
    }

    Image byName(String name) {
        return images.values().stream().filter(i -> i.name().equals(name)).findFirst().orElseThrow();
    }

    /** Registers an image entry pointing at an existing file, e.g. with a wrong checksum. */
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
        return List.copyOf(images.values());
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
            Files.createDirectories(addedDir);
            Files.setPosixFilePermissions(addedDir, PosixFilePermissions.fromString("rwxr-xr-x"));
            String id = UUID.randomUUID().toString();
            Path target = addedDir.resolve(id);
            Files.move(source, target, StandardCopyOption.REPLACE_EXISTING);
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (InputStream in = Files.newInputStream(target)) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                }
            }
            Image image = new Image(id, name, diskFormat, containerFormat, HexFormat.of().formatHex(md.digest()),
                    Files.size(target), properties);
            put(image, target);
            return image;
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            throw new DriverException.ImageInvalid("00000000-0000-0000-0000-000000000000", e.getMessage());
        }
    }

    @Override
    public void delete(String imageId) {
        images.remove(imageId);
        Path f = files.remove(imageId);
        if (f != null && f.startsWith(addedDir)) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException ignored) {
                // test cleanup removes the directory anyway
            }
        }
    }
}
