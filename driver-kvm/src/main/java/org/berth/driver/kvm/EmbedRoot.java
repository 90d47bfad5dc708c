package org.berth.driver.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.berth.driver.api.DriverException;
import org.libvirt.LibvirtException;

/**
 * The root directory of libvirt's embedded QEMU driver ({@code qemu:///embed?root=DIR}): the driver runs inside
 * this process and keeps there what libvirtd keeps under /etc, /run and /var (definitions, status, monitor sockets).
 * libvirt locks {@code run/qemu/driver.pid} in it, so one process at a time may hold a root.
 */
final class EmbedRoot {
    private EmbedRoot() {
    }

    /** Creates {@code root} mode 0755 if missing: QEMU, run as its own user, opens its sockets below it. */
    static void prepare(Path root) {
        if (Files.isDirectory(root)) {
            return;
        }
        try {
            Files.createDirectories(root);
            Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException | UnsupportedOperationException e) {
            throw new DriverException.BackendUnavailable(LibvirtSession.BACKEND, "cannot create the embedded "
                    + "driver's root " + root + ": " + e, e);
        }
    }

    /** Why opening the embedded driver on {@code root} failed, in Berth's words where libvirt's are cryptic. */
    static String connectFailure(Path root, LibvirtException e) {
        String message = e.getError() == null ? String.valueOf(e) : e.getError().getMessage();
        if (message != null && message.contains("driver.pid")) {
            return "embedded QEMU driver root " + root + " is held by another process" + holder(root)
                    + ": only one process at a time may open a root (libvirt: " + message + ")";
        }
        if (message != null && message.contains("already open with path")) {
            return "this process already runs the embedded QEMU driver on another root; one root per process"
                    + " (libvirt: " + message + ")";
        }
        if (message != null && message.contains("state driver is not active")) {
            return "an earlier attempt of this process to open the embedded QEMU driver on " + root + " failed and"
                    + " libvirt starts it once per process: restart the process (libvirt: " + message + ")";
        }
        return "cannot open the embedded QEMU driver on " + root + ": " + message;
    }

    private static String holder(Path root) {
        try {
            String pid = Files.readString(root.resolve("run/qemu/driver.pid")).trim();
            return pid.matches("\\d{1,10}") ? " (pid " + pid + ")" : "";
        } catch (IOException e) {
            return "";
        }
    }
}
