package org.berth.driver.kvm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageStore;
import org.berth.driver.api.InstanceSpec;

/**
 * An instance's directory {@code stateDir/<uuid>/}: {@code disk} (qcow2 overlay on the cached base),
 * {@code disk.eph0}, {@code disk.swap}, {@code disk.config} (the config drive, when it has one), {@code console.log},
 * {@code spec.xml} (a copy of the metadata, so a hard reboot can rebuild a lost definition) and {@code bases} (base
 * image ids in use).
 */
final class InstanceFiles {
    private static final Logger LOG = Logger.getLogger(InstanceFiles.class.getName());
    private static final long GIB = 1024L * 1024 * 1024;
    private static final long MIB = 1024L * 1024;
    private static final String DEFAULT_CMDLINE = "console=ttyS0";

    private final Path stateDir;
    private final ImageStore images;
    private final BaseImages bases;
    private final QemuImg qemuImg;
    private final ConfigDrive configDrive;

    InstanceFiles(Path stateDir, ImageStore images, BaseImages bases, QemuImg qemuImg, ConfigDrive configDrive) {
        this.stateDir = stateDir;
        this.images = images;
        this.bases = bases;
        this.qemuImg = qemuImg;
        this.configDrive = configDrive;
    }

    Path dir(UUID uuid) {
        return stateDir.resolve(uuid.toString());
    }

    Path consoleLog(UUID uuid) {
        return dir(uuid).resolve("console.log");
    }

    Path rootDisk(UUID uuid) {
        return dir(uuid).resolve("disk");
    }

    /**
     * Creates what is missing (idempotent, so hard reboot can repair) and returns the boot layout. The config drive
     * is written afresh every time (the spec's VIFs may have changed since the last boot), or removed when the
     * instance has none.
     */
    DomainXml.Layout prepare(InstanceSpec spec) {
        Image image = images.get(spec.imageId());
        if (image.containerFormat() != ContainerFormat.BARE || image.diskFormat() == DiskFormat.ARI) {
            throw new DriverException.ImageInvalid(image.id(), "kvm spawns from qcow2, raw or aki images in bare "
                    + "containers, not " + image.diskFormat().glanceName() + "/" + image.containerFormat().glanceName());
        }
        Path dir = dir(spec.uuid());
        try {
            createReadableDir(stateDir);
            createReadableDir(dir);
            Set<String> used = new HashSet<>();
            Path root = rootDisk(spec.uuid());
            Path kernel = null;
            Path initrd = null;
            Optional<String> kernelId = image.diskFormat() == DiskFormat.AKI
                    ? Optional.of(image.id()) : Optional.ofNullable(image.properties().get(Image.KERNEL_ID));
            if (kernelId.isPresent()) {
                Image k = images.get(kernelId.get());
                kernel = bases.fetch(k);
                used.add(k.id());
                String ramdiskId = image.properties().getOrDefault(Image.RAMDISK_ID, k.properties().get(Image.RAMDISK_ID));
                if (ramdiskId != null) {
                    Image r = images.get(ramdiskId);
                    initrd = bases.fetch(r);
                    used.add(r.id());
                }
            }
            if (!Files.exists(root)) {
                if (image.diskFormat() == DiskFormat.AKI) {
                    qemuImg.createBlank(root, Math.max(1, spec.flavor().rootGb()) * GIB);
                } else {
                    Path base = bases.fetch(image);
                    used.add(image.id());
                    String format = image.diskFormat().glanceName();
                    long wanted = spec.flavor().rootGb() * GIB;
                    long size = wanted > 0 && wanted > qemuImg.virtualSize(base, format) ? wanted : 0;
                    qemuImg.createOverlay(root, base, format, size);
                }
            } else if (image.diskFormat() != DiskFormat.AKI) {
                used.add(image.id());
            }
            Path eph = null;
            if (spec.flavor().ephemeralGb() > 0) {
                eph = dir.resolve("disk.eph0");
                if (!Files.exists(eph)) {
                    qemuImg.createBlank(eph, spec.flavor().ephemeralGb() * GIB);
                }
            }
            Path swap = null;
            if (spec.flavor().swapMb() > 0) {
                swap = dir.resolve("disk.swap");
                if (!Files.exists(swap)) {
                    qemuImg.createBlank(swap, spec.flavor().swapMb() * MIB);
                }
            }
            Files.writeString(dir.resolve("bases"), String.join("\n", used) + "\n", StandardCharsets.UTF_8);
            writeSpec(spec);
            Path drive = refreshConfigDrive(spec).orElse(null);
            String cmdline = kernel == null ? null : spec.property(Image.OS_COMMAND_LINE,
                    image.property(Image.OS_COMMAND_LINE, kernelCmdline(kernelId.get())));
            return new DomainXml.Layout(root, eph, swap, kernel, initrd, cmdline, consoleLog(spec.uuid()), drive);
        } catch (IOException e) {
            throw new DriverException.BackendFailure("berth", "prepare instance files", e.getMessage(), e);
        }
    }

    /**
     * After an interface hot-plug: rewrites the drive an instance already has from {@code spec} (the running guest
     * reads it at its next boot), never adds or removes one (the domain's definition names it or not; a change of
     * the driver's default applies at the next hard reboot, through {@link #prepare}). The interface change has
     * happened: a failure here is logged, not thrown, and the next hard reboot builds the drive again.
     */
    void rewriteConfigDriveAfterHotplug(InstanceSpec spec) {
        Path dir = dir(spec.uuid());
        if (!Files.exists(ConfigDrive.path(dir))) {
            return;
        }
        try {
            configDrive.write(dir, spec);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "instance " + spec.uuid() + ": the config drive was not rewritten after the "
                    + "interface change (the next hard reboot rebuilds it): " + e.getMessage());
        }
    }

    /** Writes the config drive from {@code spec} and returns it; removes it and returns empty when it has none. */
    Optional<Path> refreshConfigDrive(InstanceSpec spec) {
        Path dir = dir(spec.uuid());
        if (!configDrive.wanted(spec)) {
            ConfigDrive.remove(dir);
            return Optional.empty();
        }
        return Optional.of(configDrive.write(dir, spec));
    }

    private String kernelCmdline(String kernelId) {
        return images.get(kernelId).property(Image.OS_COMMAND_LINE, DEFAULT_CMDLINE);
    }

    void writeSpec(InstanceSpec spec) {
        var doc = Xml.newDocument();
        SpecXml.write(doc, spec);
        try {
            Path file = dir(spec.uuid()).resolve("spec.xml");
            Files.writeString(file, Xml.write(doc), StandardCharsets.UTF_8);
            // it holds the guest's user data and keys: the agent's (root's) alone, as the config drive is
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new DriverException.BackendFailure("berth", "store instance spec", e.getMessage(), e);
        }
    }

    /** The spec kept in the instance directory, for a definition libvirt lost. */
    Optional<InstanceSpec> storedSpec(UUID uuid) {
        Path file = dir(uuid).resolve("spec.xml");
        try {
            return Files.exists(file) ? SpecXml.read(Files.readString(file)) : Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Base image ids every instance directory uses. */
    Set<String> basesInUse() {
        Set<String> ids = new HashSet<>();
        if (!Files.isDirectory(stateDir)) {
            return ids;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(stateDir)) {
            for (Path d : dirs) {
                Path f = d.resolve("bases");
                if (Files.isRegularFile(f)) {
                    for (String line : Files.readAllLines(f)) {
                        if (!line.isBlank()) {
                            ids.add(line.strip());
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new DriverException.BackendFailure("berth", "list instance directories", e.getMessage(), e);
        }
        return ids;
    }

    void delete(UUID uuid) {
        try {
            deleteTree(dir(uuid));
        } catch (IOException e) {
            throw new DriverException.BackendFailure("berth", "remove instance files of " + uuid, e.getMessage(), e);
        }
    }

    /** Deletes {@code dir} and everything in it; nothing when it does not exist. */
    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                Files.deleteIfExists(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** A directory the QEMU user can traverse (dynamic_ownership chowns files, not their parents). */
    static void createReadableDir(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }
}
