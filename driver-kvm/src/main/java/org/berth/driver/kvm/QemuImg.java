package org.berth.driver.kvm;

import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.driver.api.DriverException;

/** {@code qemu-img} through {@link HostCommand}: argument arrays (never a shell) and a watchdog timeout. */
final class QemuImg {
    private static final Pattern VIRTUAL_SIZE = Pattern.compile("\"virtual-size\"\\s*:\\s*(\\d+)");
    private final Duration timeout;

    QemuImg(Duration timeout) {
        this.timeout = timeout;
    }

    /** A qcow2 overlay on {@code backing}, {@code sizeBytes} large when above 0 (else the backing file's size). */
    void createOverlay(Path overlay, Path backing, String backingFormat, long sizeBytes) {
        if (sizeBytes > 0) {
            run("create overlay", "create", "-q", "-f", "qcow2", "-F", backingFormat, "-b", backing.toString(),
                    overlay.toString(), Long.toString(sizeBytes));
        } else {
            run("create overlay", "create", "-q", "-f", "qcow2", "-F", backingFormat, "-b", backing.toString(),
                    overlay.toString());
        }
    }

    void createBlank(Path file, long sizeBytes) {
        run("create disk", "create", "-q", "-f", "qcow2", file.toString(), Long.toString(sizeBytes));
    }

    /** Flattens {@code source} (and its backing chain) into a standalone qcow2; -U reads a disk a paused VM holds. */
    void flatten(Path source, Path target) {
        run("convert disk", "convert", "-U", "-q", "-O", "qcow2", source.toString(), target.toString());
    }

    long virtualSize(Path file, String format) {
        String json = run("read image info", "info", "-U", "--output=json", "-f", format, file.toString());
        Matcher m = VIRTUAL_SIZE.matcher(json);
        if (!m.find()) {
            throw new DriverException.BackendFailure("qemu-img", "read image info", "no virtual-size in output", null);
        }
        return Long.parseLong(m.group(1));
    }

    private String run(String operation, String... args) {
        return HostCommand.run("qemu-img", "qemu-img", timeout, operation, args);
    }
}
