package org.berth.driver.api;

import java.util.Locale;

/** Glance's {@code container_format} values that Berth handles. */
public enum ContainerFormat {
    /** No container around the disk data. */
    BARE,
    /** A {@code docker save} tarball. */
    DOCKER;

    public String glanceName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static ContainerFormat ofGlanceName(String value) {
        for (ContainerFormat f : values()) {
            if (f.glanceName().equals(value)) {
                return f;
            }
        }
        throw new IllegalArgumentException("container_format: '" + Check.printable(String.valueOf(value))
                + "' must be one of bare, docker");
    }
}
