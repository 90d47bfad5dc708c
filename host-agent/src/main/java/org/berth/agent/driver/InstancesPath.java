package org.berth.agent.driver;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.berth.agent.config.ConfigException;
import org.berth.agent.config.ConfigLoader;
import org.berth.driver.api.DriverException;

/**
 * {@code instances_path}: where each driver keeps its instances' files, {@code <instances_path>/<driver>/}. The
 * directories the agent makes there are {@code rwxr-xr-x} whatever the umask, since the backend's user (QEMU's)
 * opens disks under them; a driver that finds its directory out of that user's reach refuses to start, and
 * {@link #refusal} turns that into an error naming the option, the path, the user and the fix.
 */
final class InstancesPath {
    private static final System.Logger LOG = System.getLogger(InstancesPath.class.getName());

    private InstancesPath() {
    }

    /** Creates {@code <instancesPath>/<driver>} and every missing parent, each searchable by every user. */
    static Path driverDir(Path instancesPath, String driver, Path stateDir) {
        Path dir = instancesPath.resolve(driver);
        try {
            createSearchable(dir);
        } catch (IOException e) {
            throw new ConfigException("instances_path", "cannot create " + dir + ": " + e);
        }
        warnAboutOldLayout(stateDir.resolve("drivers").resolve(driver), dir, driver);
        return dir;
    }

    private static void createSearchable(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        Path parent = dir.getParent();
        if (parent != null) {
            createSearchable(parent);
        }
        try {
            Files.createDirectory(dir);
        } catch (java.nio.file.FileAlreadyExistsException raced) {
            return;
        }
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** Before instances_path, driver files lived in {@code <state_dir>/drivers/<driver>}: say so, move nothing. */
    private static void warnAboutOldLayout(Path old, Path now, String driver) {
        if (old.equals(now) || !Files.isDirectory(old)) {
            return;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(old)) {
            if (entries.iterator().hasNext()) {
                LOG.log(Level.WARNING, "driver " + driver + ": instance files of an older agent are in " + old
                        + ", not in " + now + "; set instances_path: " + old.getParent() + " to keep using them");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + old, e);
        }
    }

    /** The start-up error for a driver whose backend user cannot reach its directory. */
    static ConfigException refusal(String driver, Path instancesPath, DriverException.StateDirUnreachable e) {
        String fix = instancesPath.startsWith(ConfigLoader.DEFAULT_INSTANCES_PATH)
                ? "give that user search (x) permission on " + e.blocked() + " (chmod o+x " + e.blocked() + ")"
                : "set instances_path to a directory that user can reach (the default is "
                        + ConfigLoader.DEFAULT_INSTANCES_PATH + "), or give it search (x) permission on " + e.blocked()
                        + " (chmod o+x " + e.blocked() + ")";
        return new ConfigException("instances_path", instancesPath + ": driver " + driver + " keeps instance disks in "
                + e.stateDir() + ", which " + e.user() + " cannot reach: " + e.blocked() + " " + e.rule()
                + ". Fix: " + fix);
    }
}
