package org.berth.agent.vif;

import java.time.Duration;
import org.berth.driver.api.VifSpec;

/** What the binding wait asks of the switch (ovs-vif's {@code OvsVifPlugger} answers it). Thread-safe. */
public interface OvnChassis {
    /** Whether ovn-controller is configured on this switch, i.e. OVN binds its ports. */
    boolean isOvnChassis();

    /**
     * Waits, at most {@code timeout}, until OVN has bound the plugged VIF ({@code ovn-installed} on its Interface).
     *
     * @return how long that took
     * @throws org.berth.driver.api.DriverException.OperationTimedOut if it was not bound in time
     */
    Duration awaitBound(VifSpec vif, Duration timeout);
}
