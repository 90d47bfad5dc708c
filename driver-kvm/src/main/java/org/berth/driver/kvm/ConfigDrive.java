package org.berth.driver.kvm;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.berth.metadata.MetadataDocuments;
import org.berth.metadata.MetadataFile;

/**
 * Nova's config drive: the metadata documents of {@link MetadataDocuments} on an ISO 9660 volume with Rock Ridge and
 * Joliet, labelled {@value MetadataDocuments#LABEL}, kept as {@value #FILE} in the instance directory. It is made by
 * {@code mkisofs_cmd} (xorriso in its genisoimage mode by default) with the flags Nova gives genisoimage, from a
 * staging directory beside it, under a temporary name that is then renamed over the old file: a running QEMU keeps
 * the drive it opened and the next boot reads the new one, as on Nova.
 */
final class ConfigDrive {
    static final String FILE = "disk.config";

    private final boolean byDefault;
    private final String mkisofsCmd;
    private final Duration timeout;
    private final String publisher;

    /**
     * @param byDefault  whether an instance whose spec does not say gets a drive ({@code config_drive} option)
     * @param mkisofsCmd the ISO tool, a name looked up on PATH or an absolute path ({@code mkisofs_cmd} option)
     * @param timeout    bound of one tool run
     * @param version    Berth's version, for the volume's publisher field (Nova writes its own there)
     */
    ConfigDrive(boolean byDefault, String mkisofsCmd, Duration timeout, String version) {
        this.byDefault = byDefault;
        this.mkisofsCmd = mkisofsCmd;
        this.timeout = timeout;
        this.publisher = "Berth " + version;
    }

    /** Whether {@code spec}'s instance has a drive: its own {@code config_drive}, else the driver's default. */
    boolean wanted(InstanceSpec spec) {
        return spec.guest().configDriveOr(byDefault);
    }

    static Path path(Path instanceDir) {
        return instanceDir.resolve(FILE);
    }

    /**
     * Writes (or rewrites) {@code instanceDir/disk.config} from {@code spec} with its VIFs as they are now and returns
     * it. Whatever the outcome, the staging directory and the temporary image are gone afterwards; on failure an
     * existing drive is left as it was.
     */
    Path write(Path instanceDir, InstanceSpec spec) {
        String operation = "build the config drive of " + spec.uuid();
        Path executable = executable(operation);
        String nonce = UUID.randomUUID().toString().substring(0, 8);
        Path staging = instanceDir.resolve(".config-drive-" + nonce);
        Path tmp = instanceDir.resolve(FILE + ".tmp-" + nonce);
        Path target = path(instanceDir);
        try {
            Files.createDirectory(staging);
            for (MetadataFile f : MetadataDocuments.of(spec)) {
                Path file = staging.resolve(f.path());
                Files.createDirectories(file.getParent());
                Files.write(file, f.content());
            }
            HostCommand.run(toolName(), executable.toString(), timeout, operation,
                    arguments(tmp, staging).toArray(String[]::new));
            // user data and keys: root's alone on the host; libvirt gives it to QEMU's user when the domain starts
            // (a drive renamed in under a running guest is read at its next start, relabelled then)
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return target;
        } catch (IOException e) {
            throw new DriverException.BackendFailure("berth", operation, e.toString(), e);
        } finally {
            try {
                InstanceFiles.deleteTree(staging);
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                // the instance directory goes with the instance; a leftover here is removed then
            }
        }
    }

    /** Removes the drive of an instance that has none any more (its spec or the driver's default says so). */
    static void remove(Path instanceDir) {
        try {
            Files.deleteIfExists(path(instanceDir));
        } catch (IOException e) {
            throw new DriverException.BackendFailure("berth", "remove " + path(instanceDir), e.toString(), e);
        }
    }

    /**
     * Nova's genisoimage flags ({@code -o OUT -ldots -allow-lowercase -allow-multidot -l -publisher P -quiet -J -r
     * -V config-2 DIR}) plus the input charset (UTF-8 names, whatever the agent's locale); xorriso takes them after
     * {@code -as genisoimage}, genisoimage, mkisofs and xorrisofs as they are.
     */
    List<String> arguments(Path out, Path dir) {
        List<String> args = new ArrayList<>();
        if ("xorriso".equals(toolName())) {
            args.addAll(List.of("-as", "genisoimage"));
        }
        args.addAll(List.of("-o", out.toString(), "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
                "-publisher", publisher, "-quiet", "-J", "-r", "-V", MetadataDocuments.LABEL,
                "-input-charset", "utf-8", dir.toString()));
        return args;
    }

    private String toolName() {
        return Path.of(mkisofsCmd).getFileName().toString();
    }

    /** The tool's file, checked before anything is written so that a host without it fails cleanly, naming it. */
    private Path executable(String operation) {
        Optional<Path> found;
        if (mkisofsCmd.contains("/")) {
            found = Optional.of(Path.of(mkisofsCmd)).filter(Files::isRegularFile).filter(Files::isExecutable);
        } else {
            String path = Optional.ofNullable(System.getenv("PATH")).orElse("/usr/bin:/bin");
            found = List.of(path.split(File.pathSeparator)).stream().filter(d -> !d.isEmpty())
                    .map(d -> Path.of(d, mkisofsCmd)).filter(Files::isRegularFile).filter(Files::isExecutable)
                    .findFirst();
        }
        return found.orElseThrow(() -> new DriverException.BackendFailure(toolName(), operation, "'" + mkisofsCmd
                + "' is not installed (no such executable" + (mkisofsCmd.contains("/") ? "" : " on PATH")
                + "): install Debian's xorriso package (scripts/host-setup.sh does), set drivers.kvm.mkisofs_cmd, "
                + "or turn config drives off (drivers.kvm.config_drive: false, or config_drive false in the request)",
                null));
    }
}
