package org.berth.agent.placement;

import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * What Placement should hold for this host: the inventories, the traits Berth manages, and one allocation per
 * instance in the store (resource class to amount).
 */
record HostReport(Map<String, Inventory> inventories, Set<String> traits, Map<UUID, Map<String, Long>> allocations,
                  Set<UUID> held) {
    HostReport {
        held = Set.copyOf(held);
        inventories = Map.copyOf(inventories);
        traits = Set.copyOf(traits);
        allocations = Map.copyOf(allocations);
    }
}
