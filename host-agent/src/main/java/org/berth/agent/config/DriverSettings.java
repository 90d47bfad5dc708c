package org.berth.agent.config;

import java.util.Map;

/** {@code drivers.<name>}: whether the driver is enabled and its options (passed as its DriverConfig). */
public record DriverSettings(boolean enabled, Map<String, String> options) {
    public DriverSettings {
        options = Map.copyOf(options);
    }
}
