package org.berth.agent.placement;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One resource class of a provider's inventory, as Placement has it. Capacity = (total − reserved) × ratio.
 */
public record Inventory(long total, long reserved, long minUnit, long maxUnit, long stepSize, double allocationRatio) {

    /** Nova's shape: min_unit 1, max_unit total, step_size 1; reserved at most total (Placement refuses more). */
    public static Inventory of(long total, long reserved, double allocationRatio) {
        return new Inventory(total, Math.min(reserved, total), 1, total, 1, allocationRatio);
    }

    /** Equal as Placement stores them (the ratio is a float there). */
    boolean same(Inventory o) {
        return o != null && total == o.total && reserved == o.reserved && minUnit == o.minUnit && maxUnit == o.maxUnit
                && stepSize == o.stepSize && Math.abs(allocationRatio - o.allocationRatio) < 1e-6;
    }

    ObjectNode json() {
        ObjectNode n = PlacementClient.JSON.createObjectNode();
        n.put("total", total).put("reserved", reserved).put("min_unit", minUnit).put("max_unit", maxUnit)
                .put("step_size", stepSize).put("allocation_ratio", allocationRatio);
        return n;
    }

    static Inventory parse(JsonNode n) {
        return new Inventory(n.path("total").asLong(), n.path("reserved").asLong(), n.path("min_unit").asLong(1),
                n.path("max_unit").asLong(), n.path("step_size").asLong(1), n.path("allocation_ratio").asDouble(1.0));
    }
}
