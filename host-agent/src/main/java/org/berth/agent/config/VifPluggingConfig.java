package org.berth.agent.config;

import java.time.Duration;

/**
 * How long a spawn (or an interface hot-plug) waits for the network to bind a plugged VIF, with Nova's option names.
 * On an OVN chassis that is ovn-controller setting {@code ovn-installed} on the port's Interface; on plain OVS
 * nothing binds ports and nothing waits.
 *
 * @param timeout {@code vif_plugging_timeout}: the bound of the wait; zero = do not wait
 * @param isFatal {@code vif_plugging_is_fatal}: whether a VIF not bound in time fails the spawn (rolled back) or is
 *                only logged and recorded as an instance event
 */
public record VifPluggingConfig(Duration timeout, boolean isFatal) {
    public VifPluggingConfig {
        if (timeout == null || timeout.isNegative()) {
            throw new IllegalArgumentException("vif_plugging_timeout must be zero or positive, got " + timeout);
        }
    }

    /** Whether a plug waits for its binding at all. */
    public boolean waits() {
        return !timeout.isZero();
    }
}
