package org.berth.agent.capacity;

import java.util.List;

/**
 * GET /v1/host's capacity: raw totals, limits after allocation ratios and reserved memory, what the drivers report
 * in use, what the store has claimed (in-flight spawns included) and what is free for admission.
 */
public record Capacity(HostTotals totals, Resources limits, Resources driverUsed, Resources claimed,
                       Resources free, int runningInstances, List<Hypervisor> hypervisors) {

    public record Resources(long vcpus, long memoryMb, long diskGb) {
    }

    public record Hypervisor(String driver, String type, long version) {
    }
}
