package org.berth.agent.vif;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.UUID;
import java.util.function.LongSupplier;
import org.berth.agent.config.VifPluggingConfig;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;

/**
 * The agent's VIF plugger: the switch's plugger, whose {@link #awaitAttached} also waits, as Nova does, for the
 * network to bind the port before the instance is reported active. On an OVN chassis that is ovn-controller setting
 * {@code ovn-installed} ({@code vif_plugging_timeout}; {@code vif_plugging_is_fatal} says whether a port not bound
 * in time fails the spawn, which the drivers then roll back, or is only recorded). On plain OVS nothing binds ports
 * and nothing waits: one chassis check, cached for {@link #CHASSIS_TTL} (ovn-controller may be configured later).
 * Every outcome is recorded in {@link VifBindings} for the instance's events. Thread-safe.
 */
public final class BoundVifPlugger implements VifPlugger {
    static final Duration CHASSIS_TTL = Duration.ofSeconds(5);
    private static final System.Logger LOG = System.getLogger(BoundVifPlugger.class.getName());

    private final VifPlugger plugs;
    private final OvnChassis chassis;
    private final VifPluggingConfig policy;
    private final VifBindings bindings;
    private final LongSupplier nanoTime;
    private record Checked(boolean ovn, long atNanos) {
    }
    private volatile Checked checked;

    public BoundVifPlugger(VifPlugger plugs, OvnChassis chassis, VifPluggingConfig policy, VifBindings bindings) {
        this(plugs, chassis, policy, bindings, System::nanoTime);
    }

    BoundVifPlugger(VifPlugger plugs, OvnChassis chassis, VifPluggingConfig policy, VifBindings bindings,
                    LongSupplier nanoTime) {
        this.plugs = plugs;
        this.chassis = chassis;
        this.policy = policy;
        this.bindings = bindings;
        this.nanoTime = nanoTime;
    }

    @Override
    public String plugTap(UUID instance, VifSpec vif) {
        return plugs.plugTap(instance, vif);
    }

    @Override
    public void plugNamespace(UUID instance, VifSpec vif, long pid, String ifName) {
        plugs.plugNamespace(instance, vif, pid, ifName);
    }

    /**
     * The switch's attach (ofport), then, on an OVN chassis with {@code vif_plugging_timeout} > 0, OVN's binding.
     *
     * @throws DriverException.OperationTimedOut if OVN did not bind the port in time and {@code vif_plugging_is_fatal}
     */
    @Override
    public void awaitAttached(UUID instance, VifSpec vif) {
        plugs.awaitAttached(instance, vif);
        if (!policy.waits() || !isOvnChassis()) {
            return;
        }
        try {
            Duration took = chassis.awaitBound(vif, policy.timeout());
            bindings.record(new VifBinding(instance, vif.portId(), true, took, null));
        } catch (DriverException.OperationTimedOut e) {
            String why = "port " + vif.portId() + " was not bound by OVN within " + seconds(policy.timeout())
                    + " (vif_plugging_timeout): ovn-controller never set ovn-installed on Interface " + vif.devName()
                    + "; does the northbound database have a logical switch port named " + vif.portId() + "?";
            if (policy.isFatal()) {
                throw DriverException.OperationTimedOut.withMessage("OVN binding of port " + vif.portId(),
                        policy.timeout(), why, e);
            }
            LOG.log(Level.WARNING, "instance " + instance + ": " + why + "; going on (vif_plugging_is_fatal false)");
            bindings.record(new VifBinding(instance, vif.portId(), false, policy.timeout(), why));
        }
    }

    @Override
    public void unplug(UUID instance, VifSpec vif) {
        plugs.unplug(instance, vif);
    }

    private boolean isOvnChassis() {
        Checked c = checked;
        long now = nanoTime.getAsLong();
        if (c == null || now - c.atNanos() >= CHASSIS_TTL.toNanos()) {
            c = new Checked(chassis.isOvnChassis(), now);
            checked = c;
        }
        return c.ovn();
    }

    /** {@code 300 s}, or {@code 1500 ms} when not whole seconds. */
    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
