package org.berth.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The test images {@code images/build.sh} built, looked up by name in the manifests it wrote. An image's id is
 * derived from its bytes, and its bytes from whatever Debian served on the day it was built (a new cloud kernel
 * is a new id), so a test never carries an id: it asks for {@code id("berth-guest-kernel")}.
 * {@link ImageIdGuard} fails the build on a literal id.
 */
public final class TestImages {
    /** The busybox container image (docker-archive). */
    public static final String BUSYBOX = "berth-busybox";
    /** Debian's cloud kernel (aki); its {@code ramdisk_id} names {@link #GUEST_INITRD}. */
    public static final String GUEST_KERNEL = "berth-guest-kernel";
    /** The busybox initramfs (ari). */
    public static final String GUEST_INITRD = "berth-guest-initrd";
    /** The qcow2 that boots kernel + initramfs through SYSLINUX. */
    public static final String GUEST_DISK = "berth-guest-disk";
    /** A minimal Debian with systemd, cloud-init and openssh-server: one bootable qcow2, as a cloud image. */
    public static final String CLOUD_GUEST = "berth-cloud-guest";

    private static final ObjectMapper JSON = new ObjectMapper();

    private TestImages() {
    }

    /** Where the build put them: {@code -Dberth.images.dir} (the Makefile sets it), else the default cache. */
    public static Path dir() {
        return Path.of(System.getProperty("berth.images.dir", "/var/cache/berth/images"));
    }

    /** The manifest {@code <dir>/<name>.json}; fails with the fix when the images are not built. */
    public static JsonNode manifest(String name) {
        Path file = dir().resolve(name + ".json");
        try {
            return JSON.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IllegalStateException("test image " + name + ": no manifest " + file
                    + " (build the images: images/build.sh, or make test)", e);
        } catch (IOException e) {
            throw new UncheckedIOException("test image " + name + ": cannot read " + file, e);
        }
    }

    /** The id the build gave the image named {@code name}. */
    public static String id(String name) {
        String id = manifest(name).path("id").asText("");
        if (id.isEmpty()) {
            throw new IllegalStateException("test image " + name + ": its manifest has no id");
        }
        return id;
    }

    /** The image file itself. */
    public static Path file(String name) {
        return dir().resolve(manifest(name).path("file").asText(name));
    }

    /** Every image id in {@code <dir>/index.json}; empty when nothing is built there. */
    public static Set<String> indexIds(Path dir) {
        Path index = dir.resolve("index.json");
        Set<String> ids = new LinkedHashSet<>();
        if (!Files.isRegularFile(index)) {
            return ids;
        }
        try {
            for (JsonNode image : JSON.readTree(Files.readString(index)).path("images")) {
                String id = image.path("id").asText("");
                if (!id.isEmpty()) {
                    ids.add(id);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + index, e);
        }
        return ids;
    }
}
