package org.berth.agent.image;

import java.util.Map;
import org.berth.agent.store.FieldError;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;

/**
 * What a caller says of an image it imports or uploads; the SHA-256 is the one the bytes must have.
 * Validated here so that the JSON import and the streamed upload answer the same field errors.
 */
public record ImageMeta(String name, DiskFormat diskFormat, ContainerFormat containerFormat, String sha256,
                        Map<String, String> properties) {
    private static final String NAME = "[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}";

    public ImageMeta {
        if (name == null || !name.matches(NAME)) {
            throw new FieldError("name", "name", "'" + printable(name) + "' must be 1-255 letters, digits and . _ : @ -"
                    + " starting with a letter or digit");
        }
        if (sha256 == null || !sha256.matches("[0-9a-f]{64}")) {
            throw new FieldError("sha256", "format", "must be 64 lower-case hex digits");
        }
        if (diskFormat == null || containerFormat == null) {
            throw new FieldError(diskFormat == null ? "disk_format" : "container_format", "required", "must be given");
        }
        properties = Map.copyOf(properties);
    }

    /** From the caller's text values; a missing value (null) or an unknown format is a field error. */
    public static ImageMeta of(String name, String diskFormat, String containerFormat, String sha256,
                               Map<String, String> properties) {
        required("name", name);
        required("disk_format", diskFormat);
        required("container_format", containerFormat);
        required("sha256", sha256);
        DiskFormat disk;
        ContainerFormat container;
        try {
            disk = DiskFormat.ofGlanceName(diskFormat);
            container = ContainerFormat.ofGlanceName(containerFormat);
        } catch (IllegalArgumentException e) {
            // the driver API's message starts with the field name: "disk_format: 'x' must be one of ..."
            String m = String.valueOf(e.getMessage());
            int colon = m.indexOf(": ");
            throw new FieldError(m.substring(0, Math.max(0, colon)), "enum", m.substring(colon + 2));
        }
        return new ImageMeta(name, disk, container, sha256, properties);
    }

    private static void required(String field, String value) {
        if (value == null) {
            throw new FieldError(field, "required", "must be given");
        }
    }

    static String printable(String s) {
        String v = String.valueOf(s);
        String c = v.length() > 64 ? v.substring(0, 64) + "…" : v;
        return c.replaceAll("\\p{Cntrl}", "?");
    }
}
