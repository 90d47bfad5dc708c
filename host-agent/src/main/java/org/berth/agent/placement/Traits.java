package org.berth.agent.placement;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.berth.agent.driver.DriverState;
import org.berth.driver.api.Capability;
import org.berth.driver.api.DiskFormat;

/** The traits Berth sets on its provider (os-traits names, plus one custom trait per available driver). */
public final class Traits {
    static final String COMPUTE_NODE = "COMPUTE_NODE";
    public static final String DISABLED = "COMPUTE_STATUS_DISABLED";
    static final String ATTACH_INTERFACE = "COMPUTE_NET_ATTACH_INTERFACE";
    static final String DRIVER_PREFIX = "CUSTOM_BERTH_DRIVER_";
    private static final String IMAGE_TYPE_PREFIX = "COMPUTE_IMAGE_TYPE_";
    private static final String ARCH_PREFIX = "HW_ARCH_";

    private Traits() {
    }

    /**
     * The traits for the drivers that are available now (a driver that is down loses its trait; its formats and
     * hot-plug count no more), the CPU architecture and the host status.
     */
    static Set<String> wanted(List<DriverState> drivers, String arch, boolean disabled) {
        Set<String> out = new TreeSet<>();
        out.add(COMPUTE_NODE);
        out.add(ARCH_PREFIX + arch(arch));
        boolean any = false;
        boolean allHotplug = true;
        for (DriverState d : drivers) {
            if (!d.available() || d.info() == null) {
                continue;
            }
            any = true;
            out.add(driverTrait(d.name()));
            allHotplug &= d.info().has(Capability.INTERFACE_HOTPLUG);
            d.info().imageFormats().forEach(f -> out.add(imageType(f.diskFormat())));
        }
        if (any && allHotplug) {
            out.add(ATTACH_INTERFACE);
        }
        if (disabled) {
            out.add(DISABLED);
        }
        return out;
    }

    /** True for the traits Berth decides; every other trait on the provider is someone else's and is kept. */
    static boolean managed(String trait) {
        return trait.equals(COMPUTE_NODE) || trait.equals(DISABLED) || trait.equals(ATTACH_INTERFACE)
                || trait.startsWith(IMAGE_TYPE_PREFIX) || trait.startsWith(ARCH_PREFIX)
                || trait.startsWith(DRIVER_PREFIX);
    }

    /** What the provider should have: the traits others set on it, plus {@code wanted}. */
    static Set<String> merge(Set<String> current, Set<String> wanted) {
        Set<String> out = new TreeSet<>(wanted);
        current.stream().filter(t -> !managed(t)).forEach(out::add);
        return out;
    }

    /** The custom trait of a driver that is available on the host, e.g. CUSTOM_BERTH_DRIVER_DOCKER. */
    public static String driverTrait(String driver) {
        return DRIVER_PREFIX + driver.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9_]", "_");
    }

    static Set<String> custom(Set<String> traits) {
        Set<String> out = new HashSet<>();
        traits.stream().filter(t -> t.startsWith("CUSTOM_")).forEach(out::add);
        return out;
    }

    private static String imageType(DiskFormat f) {
        return IMAGE_TYPE_PREFIX + f.name();
    }

    /** os-traits' HW_ARCH_ names from the JVM's or libvirt's spelling. */
    static String arch(String raw) {
        String a = raw == null ? "" : raw.toLowerCase(Locale.ROOT);
        return switch (a) {
            case "amd64", "x86_64", "x86-64" -> "X86_64";
            case "arm64", "aarch64" -> "AARCH64";
            case "i386", "i686", "x86" -> "I686";
            case "ppc64le" -> "PPC64LE";
            case "s390x" -> "S390X";
            default -> a.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9_]", "_");
        };
    }
}
