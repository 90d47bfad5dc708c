package org.berth.driver.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageStore;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;

/**
 * snapshot(name): a consistent copy of the root disk. A running guest is paused while {@code qemu-img convert}
 * flattens overlay + base into a standalone qcow2, then resumed; the copy goes to the {@link ImageStore}.
 */
final class Snapshots {
    private static final String[] INHERITED = {Image.OS_COMMAND_LINE, Image.KERNEL_ID, Image.RAMDISK_ID,
        "hw_firmware_type"};

    private final Domains domains;
    private final ImageStore images;
    private final QemuImg qemuImg;
    private final Path tmpDir;

    Snapshots(Domains domains, ImageStore images, QemuImg qemuImg, Path stateDir) {
        this.domains = domains;
        this.images = images;
        this.qemuImg = qemuImg;
        this.tmpDir = stateDir.resolve("_snapshots");
    }

    Image snapshot(UUID uuid, String imageName) {
        if (imageName == null || imageName.isBlank()) {
            throw new IllegalArgumentException("image name: must be given");
        }
        InstanceSpec spec = domains.spec("snapshot", uuid);
        PowerState state = domains.state("snapshot", uuid);
        boolean pausedHere = false;
        if (state == PowerState.RUNNING) {
            domains.session.call("snapshot", uuid, c -> {
                Domains.lookup(c, uuid).suspend();
                return null;
            });
            pausedHere = true;
        }
        Path tmp = null;
        try {
            InstanceFiles.createReadableDir(tmpDir);
            tmp = tmpDir.resolve(uuid + "-" + UUID.randomUUID() + ".qcow2");
            qemuImg.flatten(domains.files.rootDisk(uuid), tmp);
        } catch (IOException e) {
            throw new DriverException.BackendFailure("berth", "snapshot " + uuid, e.getMessage(), e);
        } catch (RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        } finally {
            if (pausedHere) {
                domains.session.call("snapshot", uuid, c -> {
                    Domains.lookup(c, uuid).resume();
                    return null;
                });
            }
        }
        try {
            return images.add(imageName, DiskFormat.QCOW2, ContainerFormat.BARE, tmp, properties(spec));
        } finally {
            deleteQuietly(tmp);
        }
    }

    /** Boot properties of the source image, so a snapshot of a kernel-booted instance boots the same way. */
    private Map<String, String> properties(InstanceSpec spec) {
        Image source = images.get(spec.imageId());
        Map<String, String> props = new HashMap<>();
        for (String key : INHERITED) {
            String v = source.properties().get(key);
            if (v != null) {
                props.put(key, v);
            }
        }
        if (source.diskFormat() == DiskFormat.AKI) {
            props.put(Image.KERNEL_ID, source.id());
        }
        spec.properties().entrySet().stream().filter(e -> e.getKey().equals(Image.OS_COMMAND_LINE))
                .forEach(e -> props.put(e.getKey(), e.getValue()));
        props.put("instance_uuid", spec.uuid().toString());
        return props;
    }

    private static void deleteQuietly(Path file) {
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // a leftover temp file in _snapshots is harmless and reported by nothing else
            }
        }
    }
}
