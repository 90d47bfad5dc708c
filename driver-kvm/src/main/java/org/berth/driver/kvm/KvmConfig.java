package org.berth.driver.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Pattern;
import org.berth.driver.api.DriverConfig;

/**
 * The driver's options ({@code drivers.kvm.*}): uri, virt_type, call_timeout, soft_reboot_timeout,
 * shutdown_timeout, events.
 */
record KvmConfig(String uri, VirtType virtType, Duration callTimeout, Duration softRebootTimeout,
                 Duration shutdownTimeout, boolean events) {

    /** Nova's {@code [libvirt] virt_type}; {@link #AUTO} is resolved once at start. */
    enum VirtType {
        KVM, QEMU, AUTO;

        String domainType() {
            return name().toLowerCase(Locale.ROOT);
        }

        String hypervisorType() {
            return name();
        }
    }

    private static final Pattern HW_VIRT = Pattern.compile("^flags\\s*:.*\\b(vmx|svm)\\b", Pattern.MULTILINE);

    static KvmConfig from(DriverConfig config) {
        VirtType wanted = config.choice("virt_type", VirtType.class, VirtType.AUTO);
        VirtType resolved = wanted == VirtType.AUTO
                ? detect(Path.of("/proc/cpuinfo"), Path.of("/dev/kvm")) : wanted;
        return new KvmConfig(
                config.string("uri", "qemu:///system"),
                resolved,
                config.duration("call_timeout", Duration.ofSeconds(60), Duration.ofMinutes(30)),
                config.duration("soft_reboot_timeout", Duration.ofSeconds(60), Duration.ofMinutes(30)),
                config.duration("shutdown_timeout", Duration.ofSeconds(60), Duration.ofMinutes(30)),
                !"false".equalsIgnoreCase(config.string("events", "true").trim()));
    }

    /** KVM only when the CPU shows hardware virtualisation and /dev/kvm can be opened; else TCG (as Nova does). */
    static VirtType detect(Path cpuinfo, Path devKvm) {
        try {
            String flags = Files.readString(cpuinfo);
            if (!HW_VIRT.matcher(flags).find()) {
                return VirtType.QEMU;
            }
        } catch (IOException | RuntimeException e) {
            return VirtType.QEMU;
        }
        return Files.isReadable(devKvm) && Files.isWritable(devKvm) ? VirtType.KVM : VirtType.QEMU;
    }
}
