package org.berth.driver.api;

import java.util.List;
import java.util.Set;

/**
 * What a driver declares about itself.
 *
 * @param name           the provider name, e.g. {@code kvm}, {@code docker}
 * @param version        the driver's version
 * @param hypervisorType Nova's hypervisor_type, e.g. {@code QEMU} or {@code docker}
 * @param capabilities   optional features it implements; anything else raises {@link DriverException.CapabilityMissing}
 * @param imageFormats   image formats it spawns from, the preferred first
 */
public record DriverInfo(String name, String version, String hypervisorType, Set<Capability> capabilities,
                         List<ImageFormat> imageFormats) {
    public DriverInfo {
        Check.name(name, "driver.name");
        Check.notBlank(version, "driver.version");
        Check.notBlank(hypervisorType, "driver.hypervisor_type");
        capabilities = Set.copyOf(Check.notNull(capabilities, "driver.capabilities"));
        imageFormats = List.copyOf(Check.notNull(imageFormats, "driver.image_formats"));
        if (imageFormats.isEmpty()) {
            throw new IllegalArgumentException("driver.image_formats: a driver must spawn from at least one format");
        }
    }

    public boolean has(Capability capability) {
        return capabilities.contains(capability);
    }

    public boolean accepts(Image image) {
        return imageFormats.stream().anyMatch(f -> f.matches(image));
    }
}
