package org.berth.driver.api;

import java.util.Locale;

/** Glance's {@code disk_format} values that Berth handles. */
public enum DiskFormat {
    QCOW2, RAW,
    /** A kernel image, booted directly ("Amazon kernel image"). */
    AKI,
    /** A ramdisk image booted with an {@link #AKI} kernel. */
    ARI;

    /** Glance's lower-case spelling. */
    public String glanceName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static DiskFormat ofGlanceName(String value) {
        for (DiskFormat f : values()) {
            if (f.glanceName().equals(value)) {
                return f;
            }
        }
        throw new IllegalArgumentException("disk_format: '" + Check.printable(String.valueOf(value))
                + "' must be one of qcow2, raw, aki, ari");
    }
}
