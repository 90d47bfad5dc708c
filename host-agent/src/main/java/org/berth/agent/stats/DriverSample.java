package org.berth.agent.stats;

import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * What one driver's {@code stats()} answered at one moment: every instance it reported, in its order.
 *
 * @param at   when the call returned (the figures' time, for rates)
 * @param took how long the call took
 */
public record DriverSample(String driver, Instant at, Duration took, Map<UUID, InstanceSample> instances) {
    public DriverSample {
        // unmodifiable but ordered: /metrics and berth top list instances as the driver reported them
        instances = Collections.unmodifiableMap(new LinkedHashMap<>(instances));
    }
}
