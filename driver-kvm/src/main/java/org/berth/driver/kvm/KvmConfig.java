package org.berth.driver.kvm;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverException;

/**
 * The driver's options ({@code drivers.kvm.*}): uri, virt_type, call_timeout, soft_reboot_timeout,
 * shutdown_timeout, events, guest_offloads, config_drive, mkisofs_cmd. {@code embedRoot} is the {@code root=} of
 * an embedded-driver uri ({@code qemu:///embed?root=DIR}), else empty; {@code guestOffloads} is resolved
 * ({@link GuestOffloads#AUTO} never). {@code configDrive} is whether an instance whose request does not say gets a
 * config drive (Nova's {@code force_config_drive}, on by default); {@code mkisofsCmd} makes it (Nova's
 * {@code mkisofs_cmd}; xorriso by default).
 */
record KvmConfig(String uri, Optional<Path> embedRoot, VirtType virtType, Duration callTimeout,
                 Duration softRebootTimeout, Duration shutdownTimeout, boolean events, GuestOffloads guestOffloads,
                 boolean configDrive, String mkisofsCmd) {

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

    /**
     * Checksum and segmentation offloads of the guests' virtio NICs. OVS's userspace datapath mishandles partial
     * checksums and GSO from a tap (ping works, TCP fails), so {@link #AUTO} turns them off when the kernel
     * datapath module is not loaded and keeps QEMU's defaults when it is.
     */
    enum GuestOffloads {
        AUTO, ON, OFF
    }

    /** 107 bytes of sun_path less {@code /lib/qemu/domain-NNNNN-<20 chars of the name>/monitor.sock}. */
    static final int MAX_EMBED_ROOT = 50;
    private static final Pattern HW_VIRT = Pattern.compile("^flags\\s*:.*\\b(vmx|svm)\\b", Pattern.MULTILINE);

    static KvmConfig from(DriverConfig config) {
        VirtType wanted = config.choice("virt_type", VirtType.class, VirtType.AUTO);
        VirtType resolved = wanted == VirtType.AUTO
                ? detect(Path.of("/proc/cpuinfo"), Path.of("/dev/kvm")) : wanted;
        String uri = config.string("uri", "qemu:///system").trim();
        GuestOffloads offloads = config.choice("guest_offloads", GuestOffloads.class, GuestOffloads.AUTO);
        return new KvmConfig(
                uri,
                embedRoot(uri),
                resolved,
                config.duration("call_timeout", Duration.ofSeconds(60), Duration.ofMinutes(30)),
                config.duration("soft_reboot_timeout", Duration.ofSeconds(60), Duration.ofMinutes(30)),
                config.duration("shutdown_timeout", Duration.ofSeconds(60), Duration.ofMinutes(30)),
                !"false".equalsIgnoreCase(config.string("events", "true").trim()),
                offloads == GuestOffloads.AUTO ? detectOffloads(Path.of("/sys/module/openvswitch")) : offloads,
                flag(config, "config_drive", true),
                config.string("mkisofs_cmd", "xorriso").trim());
    }

    /** A true/false option; anything else is refused naming it. */
    private static boolean flag(DriverConfig config, String key, boolean fallback) {
        Optional<String> raw = config.string(key);
        if (raw.isEmpty()) {
            return fallback;
        }
        String v = raw.get().trim().toLowerCase(Locale.ROOT);
        if (!v.equals("true") && !v.equals("false")) {
            throw new DriverException.InvalidConfiguration("drivers." + KvmDriverProvider.NAME + "." + key, raw.get(),
                    "must be true or false");
        }
        return v.equals("true");
    }

    /** {@link GuestOffloads#AUTO}: OFF without the kernel datapath (then OVS, if any, runs in userspace), else ON. */
    static GuestOffloads detectOffloads(Path openvswitchModule) {
        return Files.isDirectory(openvswitchModule) ? GuestOffloads.ON : GuestOffloads.OFF;
    }

    /**
     * The root directory of libvirt's embedded QEMU driver named by {@code uri}, or empty for any other uri.
     *
     * @throws DriverException.InvalidConfiguration when {@code embed} has no absolute {@code root=}, or is not
     *                                              local ({@code qemu:///embed} only: QEMU runs in this process)
     */
    static Optional<Path> embedRoot(String uri) {
        URI parsed;
        try {
            parsed = new URI(uri);
        } catch (URISyntaxException e) {
            return Optional.empty(); // libvirt judges what it is; an embed uri must parse as one
        }
        if (!"/embed".equals(parsed.getPath()) || parsed.getScheme() == null
                || !parsed.getScheme().toLowerCase(Locale.ROOT).startsWith("qemu")) {
            return Optional.empty();
        }
        if (!"qemu".equalsIgnoreCase(parsed.getScheme()) || parsed.getRawAuthority() != null) {
            throw invalidUri(uri, "must be qemu:///embed?root=DIR for the embedded driver (no transport, no host)");
        }
        String root = null;
        for (String param : parsed.getRawQuery() == null ? new String[0] : parsed.getRawQuery().split("&")) {
            if (param.startsWith("root=")) {
                root = URLDecoder.decode(param.substring(5), StandardCharsets.UTF_8);
            }
        }
        if (root == null || root.isEmpty() || !root.startsWith("/")) {
            throw invalidUri(uri, "must name an absolute root directory: qemu:///embed?root=/ABSOLUTE/DIR");
        }
        Path dir = Path.of(root).normalize();
        if (dir.toString().length() > MAX_EMBED_ROOT) {
            throw invalidUri(uri, "root must be at most " + MAX_EMBED_ROOT + " characters: QEMU's monitor socket "
                    + "ROOT/lib/qemu/domain-N-NAME/monitor.sock must fit a unix socket path (108 bytes)");
        }
        return Optional.of(dir);
    }

    private static DriverException.InvalidConfiguration invalidUri(String uri, String rule) {
        return new DriverException.InvalidConfiguration("drivers." + KvmDriverProvider.NAME + ".uri", uri, rule);
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
