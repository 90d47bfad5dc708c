package org.berth.driver.api;

import java.util.UUID;

/**
 * Plugs an instance's VIFs into the host network (Open vSwitch). Implemented by {@code ovs-vif}; drivers get it
 * from {@link DriverContext#vifPlugger()}. Every method must be thread-safe, bounded by a timeout, and roll back
 * what it created when it fails half way ({@link DriverException.VifFailure}).
 *
 * <p>Plugging is in two steps, as Nova overlaps os-vif's plug with the domain's start: {@link #plugTap} and
 * {@link #plugNamespace} return once the port is in the switch's database, and {@link #awaitAttached} waits until
 * the switch has really attached the device. A driver calls {@code awaitAttached} for every VIF it plugged after it
 * started the instance and before it reports it running, so the switch works while the hypervisor starts.
 */
public interface VifPlugger extends AutoCloseable {
    /**
     * For a VM: creates the tap device {@link VifSpec#devName()} (MAC, MTU, up) and its OVS port on
     * {@link VifSpec#bridge()} with Interface external_ids {@code iface-id}, {@code iface-status=active},
     * {@code attached-mac} and {@code vm-uuid}. Idempotent: an existing, correct plug is kept. Returns when the
     * port is committed; see {@link #awaitAttached}.
     *
     * @return the tap device name the hypervisor attaches to
     */
    String plugTap(UUID instance, VifSpec vif);

    /**
     * For a container: creates a veth pair {@code tap…}/{@code ns…}, adds {@code tap…} to the bridge as in
     * {@link #plugTap}, moves {@code ns…} into the network namespace of process {@code pid}, renames it
     * {@code ifName} and configures the VIF's MAC, MTU, IPs and default route. Idempotent for the same pid.
     * Returns when the port is committed; see {@link #awaitAttached}.
     */
    void plugNamespace(UUID instance, VifSpec vif, long pid, String ifName);

    /**
     * Waits until the switch has attached the plugged VIF's device (for OVS: ovs-vswitchd gave its Interface an
     * ofport), within the plugger's own bound. Returns at once for a VIF attached already.
     *
     * @throws DriverException.VifFailure if the VIF is not plugged or the switch could not attach its device
     * @throws DriverException.OperationTimedOut if the switch did not attach it within the plugger's bound
     */
    void awaitAttached(UUID instance, VifSpec vif);

    /**
     * Removes the OVS port and the host device of the VIF. Idempotent: a VIF that was never plugged is fine. When it
     * returns the port is gone from the switch; the device may still be on its way out (deleting a link costs the
     * kernel tens of milliseconds, which need not be the caller's): a later plug of the same VIF waits for it, and
     * {@link #close()} waits for every one.
     */
    void unplug(UUID instance, VifSpec vif);

    /**
     * Releases the plugger's connections after the devices of unplugged VIFs are gone; plugged VIFs stay. Idempotent. Called by whoever created the plugger
     * (usually through {@link VifPluggerProvider#create}), never by a driver. Does nothing by default.
     */
    @Override
    default void close() {
    }
}
