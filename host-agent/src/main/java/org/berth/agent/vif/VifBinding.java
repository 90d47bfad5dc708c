package org.berth.agent.vif;

import java.time.Duration;
import java.util.Objects;
import java.util.UUID;

/**
 * The outcome of one wait for OVN to bind a VIF, kept for the instance's events.
 *
 * @param took how long the wait lasted (the whole timeout when {@code bound} is false)
 * @param why  for an unbound VIF, the timeout's message; null when bound
 */
public record VifBinding(UUID instance, String portId, boolean bound, Duration took, String why) {
    public VifBinding {
        Objects.requireNonNull(instance, "instance");
        Objects.requireNonNull(portId, "portId");
        Objects.requireNonNull(took, "took");
    }

    /** The instance event's type: {@code vif.bound} or {@code vif.unbound}. */
    public String event() {
        return bound ? "vif.bound" : "vif.unbound";
    }

    /** The instance event's detail, e.g. {@code port … bound by OVN in 412 ms}. */
    public String detail() {
        return bound ? "port " + portId + " bound by OVN in " + took.toMillis() + " ms"
                : why + " (vif_plugging_is_fatal is false: the instance goes on without it)";
    }
}
