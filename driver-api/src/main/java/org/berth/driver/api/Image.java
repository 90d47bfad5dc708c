package org.berth.driver.api;

import java.util.Map;
import java.util.regex.Pattern;

/**
 * An image as the {@link ImageStore} holds it, in Glance's vocabulary.
 *
 * @param id              the image id (a UUID string, as Glance's)
 * @param name            a human name
 * @param diskFormat      Glance's disk_format; a docker image is {@code raw} + {@code docker}, as in Glance
 * @param containerFormat Glance's container_format
 * @param sha256          hex SHA-256 of the image file, verified on import
 * @param size            bytes of the image file
 * @param properties      Glance-style properties, e.g. {@code os_command_line}, {@code kernel_id}, {@code ramdisk_id}
 */
public record Image(String id, String name, DiskFormat diskFormat, ContainerFormat containerFormat,
                    String sha256, long size, Map<String, String> properties) {
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    /** Glance's property with the kernel command line of a directly booted kernel. */
    public static final String OS_COMMAND_LINE = "os_command_line";
    /** Glance's property linking an image to its kernel (aki) image. */
    public static final String KERNEL_ID = "kernel_id";
    /** Glance's property linking an image to its ramdisk (ari) image. */
    public static final String RAMDISK_ID = "ramdisk_id";

    public Image {
        Ids.uuid(id, "image.id");
        Check.name(name, "image.name");
        Check.notNull(diskFormat, "image.disk_format");
        Check.notNull(containerFormat, "image.container_format");
        Check.notNull(sha256, "image.sha256");
        if (!SHA256.matcher(sha256).matches()) {
            throw new IllegalArgumentException("image.sha256: must be 64 lower-case hex digits");
        }
        Check.atLeast(size, 0, "image.size");
        properties = Map.copyOf(Check.notNull(properties, "image.properties"));
    }

    public String property(String key, String fallback) {
        return properties.getOrDefault(key, fallback);
    }
}
