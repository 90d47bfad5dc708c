package org.berth.agent.placement;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.agent.capacity.CapacityService;
import org.berth.agent.capacity.HostTotals;
import org.berth.agent.config.AgentConfig;
import org.berth.agent.driver.Drivers;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.Store;

/**
 * Reads what Placement should hold from the agent's own sources, the same ones {@code GET /v1/host} and local
 * admission read: {@link CapacityService}'s totals, the configured ratios and reserved memory, the drivers' states
 * and the store's claims (every instance not deleted, in-flight spawns included).
 */
final class ReportSource {
    static final String VCPU = "VCPU";
    static final String MEMORY_MB = "MEMORY_MB";
    static final String DISK_GB = "DISK_GB";
    /** The resource classes Berth reports; other classes on the provider are someone else's and are kept. */
    static final java.util.Set<String> CLASSES = java.util.Set.of(VCPU, MEMORY_MB, DISK_GB);

    private final AgentConfig config;
    private final CapacityService capacity;
    private final Drivers drivers;
    private final Store store;
    private final java.util.function.Predicate<UUID> held;

    ReportSource(AgentConfig config, CapacityService capacity, Drivers drivers, Store store) {
        this(config, capacity, drivers, store, uuid -> false);
    }

    /** {@code held}: instances whose consumers are left as Placement has them for now (not settled after a restart). */
    ReportSource(AgentConfig config, CapacityService capacity, Drivers drivers, Store store,
                 java.util.function.Predicate<UUID> held) {
        this.held = held;
        this.config = config;
        this.capacity = capacity;
        this.drivers = drivers;
        this.store = store;
    }

    HostReport read() {
        HostTotals t = capacity.refresh().totals();
        Map<String, Inventory> inv = inventories(t, config);
        Map<UUID, Map<String, Long>> allocations = new HashMap<>();
        java.util.Set<UUID> keep = new java.util.HashSet<>();
        for (InstanceRecord r : store.list(Optional.empty())) {
            if (held.test(r.uuid())) {
                keep.add(r.uuid());
                keep.add(r.consumer());
                continue;
            }
            // a migration's source holds its usage under the migration's consumer (the instance's is the
            // destination's now): that consumer is ours, and is never taken for an unknown one
            allocations.put(r.consumer(), resources(r, inv));
        }
        return new HostReport(inv, Traits.wanted(drivers.states(), t.cpuInfo().arch(),
                capacity.status().status().disabled()), allocations, keep);
    }

    /**
     * What the store says this provider should hold for the consumers instance {@code uuid} touches: the instance's
     * own and, while it is a migration's source, the migration's (which then has the usage, the instance's none);
     * a value is null where the consumer should hold nothing here (unknown, deleted, moved).
     */
    Map<UUID, Map<String, Long>> allocations(UUID uuid) {
        Map<String, Inventory> inv = inventories(capacity.totals(), config);
        Map<UUID, Map<String, Long>> out = new HashMap<>();
        if (held.test(uuid)) {
            return out; // written once the returning-host check has settled it
        }
        out.put(uuid, null);
        store.find(uuid).ifPresent(r -> {
            if (r.migration() != null && r.migration().role() == org.berth.agent.store.Migration.Role.SOURCE) {
                out.put(r.migration().id(), null);
            }
            if (!r.deleted()) {
                out.put(r.consumer(), resources(r, inv));
            }
        });
        return out;
    }

    /** VCPU, MEMORY_MB (reserved_host_memory_mb), DISK_GB with the configured ratios; a class of total 0 is left out. */
    static Map<String, Inventory> inventories(HostTotals t, AgentConfig c) {
        Map<String, Inventory> out = new LinkedHashMap<>();
        put(out, VCPU, Inventory.of(t.vcpus(), 0, c.cpuAllocationRatio()));
        put(out, MEMORY_MB, Inventory.of(t.memoryMb(), c.reservedHostMemoryMb(), c.ramAllocationRatio()));
        put(out, DISK_GB, Inventory.of(t.localGb(), 0, c.diskAllocationRatio()));
        return out;
    }

    private static void put(Map<String, Inventory> out, String rc, Inventory i) {
        if (i.total() >= 1) {
            out.put(rc, i);
        }
    }

    /** The flavor's claim; amounts of 0, and classes the inventory lacks, are left out (Placement refuses them). */
    static Map<String, Long> resources(InstanceRecord r, Map<String, Inventory> inv) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (var e : Map.of(VCPU, (long) r.vcpus(), MEMORY_MB, r.memoryMb(), DISK_GB, r.diskGb()).entrySet()) {
            if (e.getValue() > 0 && inv.containsKey(e.getKey())) {
                out.put(e.getKey(), e.getValue());
            }
        }
        return Map.copyOf(out);
    }
}
