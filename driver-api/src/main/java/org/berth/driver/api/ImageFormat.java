package org.berth.driver.api;

/** A (disk_format, container_format) pair a driver can spawn from. */
public record ImageFormat(DiskFormat diskFormat, ContainerFormat containerFormat) {
    public ImageFormat {
        Check.notNull(diskFormat, "image_format.disk_format");
        Check.notNull(containerFormat, "image_format.container_format");
    }

    public boolean matches(Image image) {
        return image.diskFormat() == diskFormat && image.containerFormat() == containerFormat;
    }
}
