package org.berth.driver.api;

/**
 * Nova's flavor: the size of an instance.
 *
 * @param name        flavor name, e.g. {@code m1.tiny}
 * @param vcpus       virtual CPUs, at least 1
 * @param memoryMb    memory in MiB, at least 16
 * @param rootGb      root disk in GiB; 0 means "the image's own size"
 * @param ephemeralGb extra ephemeral disk in GiB, 0 for none
 * @param swapMb      swap disk in MiB, 0 for none
 */
public record Flavor(String name, int vcpus, int memoryMb, int rootGb, int ephemeralGb, int swapMb) {
    public Flavor {
        Check.name(name, "flavor.name");
        Check.between(vcpus, 1, 1024, "flavor.vcpus");
        Check.between(memoryMb, 16, 16 * 1024 * 1024, "flavor.memory_mb");
        Check.between(rootGb, 0, 64 * 1024, "flavor.root_gb");
        Check.between(ephemeralGb, 0, 64 * 1024, "flavor.ephemeral_gb");
        Check.between(swapMb, 0, 1024 * 1024, "flavor.swap_mb");
    }

    /** Nova's m1.tiny: 1 vCPU, 512 MiB, 1 GiB root disk. */
    public static Flavor tiny() {
        return new Flavor("m1.tiny", 1, 512, 1, 0, 0);
    }
}
