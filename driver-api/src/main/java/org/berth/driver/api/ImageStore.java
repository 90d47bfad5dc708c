package org.berth.driver.api;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Where drivers read images from and write snapshots to. Implementations must be thread-safe.
 */
public interface ImageStore {
    /**
     * The image with this id.
     *
     * @throws DriverException.ImageNotFound when there is none
     */
    Image get(String imageId);

    /** Every image, in no particular order. */
    List<Image> list();

    /**
     * The local file holding the image's bytes, readable by the backend (and by the {@code libvirt-qemu} user).
     * The caller must not modify it.
     *
     * @throws DriverException.ImageNotFound when there is none
     */
    Path file(String imageId);

    /**
     * Adds a new image whose bytes are in {@code source}; the store moves or copies the file, computes its SHA-256
     * and size, and gives it a new id. Atomic: on failure nothing of the new image remains.
     *
     * @throws DriverException.ImageInvalid if the file is not readable
     */
    Image add(String name, DiskFormat diskFormat, ContainerFormat containerFormat, Path source,
              Map<String, String> properties);

    /**
     * Removes the image and its file. Idempotent: an unknown id is not an error.
     */
    void delete(String imageId);
}
