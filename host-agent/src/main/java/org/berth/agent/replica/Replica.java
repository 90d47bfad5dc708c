package org.berth.agent.replica;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.UUID;

/**
 * Another host's instance as this agent keeps a copy of it, so that the instance can be rebuilt elsewhere when its
 * host dies ({@code berth cloud evacuate}). The agent only keeps it: it never acts on a replica by itself.
 *
 * @param host the host the instance lives on (its Placement provider's name)
 * @param driver the driver it runs under there
 * @param spec its spawn spec as {@code GET /v1/instances/{uuid}} shows it (uuid, name, flavor, image_id, vifs,
 *     properties, power_on)
 * @param updatedAt when the publisher read it: the newest one wins
 */
public record Replica(UUID uuid, String host, String driver, JsonNode spec, Instant updatedAt) {
}
