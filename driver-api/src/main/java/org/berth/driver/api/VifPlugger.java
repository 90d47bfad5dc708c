package org.berth.driver.api;

import java.util.UUID;

/**
 * Plugs an instance's VIFs into the host network (Open vSwitch). Implemented by {@code ovs-vif}; drivers get it
 * from {@link DriverContext#vifPlugger()}. Every method must be thread-safe, bounded by a timeout, and roll back
 * what it created when it fails half way ({@link DriverException.VifFailure}).
 */
public interface VifPlugger extends AutoCloseable {
    /**
     * For a VM: creates the tap device {@link VifSpec#devName()} (MAC, MTU, up) and its OVS port on
     * {@link VifSpec#bridge()} with Interface external_ids {@code iface-id}, {@code iface-status=active},
     * {@code attached-mac} and {@code vm-uuid}. Idempotent: an existing, correct plug is kept.
     *
     * @return the tap device name the hypervisor attaches to
     */
    String plugTap(UUID instance, VifSpec vif);

    /**
     * For a container: creates a veth pair {@code tap…}/{@code ns…}, adds {@code tap…} to the bridge as in
     * {@link #plugTap}, moves {@code ns…} into the network namespace of process {@code pid}, renames it
     * {@code ifName} and configures the VIF's MAC, MTU, IPs and default route. Idempotent for the same pid.
     */
    void plugNamespace(UUID instance, VifSpec vif, long pid, String ifName);

    /**
     * Removes the OVS port and the host device of the VIF. Idempotent: a VIF that was never plugged is fine.
     */
    void unplug(UUID instance, VifSpec vif);

    /**
     * Releases the plugger's connections; plugged VIFs stay. Idempotent. Called by whoever created the plugger
     * (usually through {@link VifPluggerProvider#create}), never by a driver. Does nothing by default.
     */
    @Override
    default void close() {
    }
}
