package org.berth.agent.stats;

import org.berth.driver.api.InstanceStats;

/**
 * One instance's counters from one sample, joined with the store's record for its name ({@code ""} when the backend
 * reports an instance the store does not know yet: adopted or still being recorded).
 */
public record InstanceSample(String name, InstanceStats stats) {
    public InstanceSample {
        name = name == null ? "" : name;
        java.util.Objects.requireNonNull(stats, "stats");
    }
}
