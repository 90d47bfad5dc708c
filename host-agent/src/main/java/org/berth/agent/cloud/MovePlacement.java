package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
import java.util.UUID;
import org.berth.agent.placement.PlacementException;
import org.berth.agent.placement.ProviderCalls;

/**
 * The Placement side of a cold migration or resize (Nova's conductor: {@code replace_allocation_with_migration},
 * {@code revert_allocation_for_migration}): one {@code POST /allocations} moves the source's usage from the instance to
 * the migration consumer and claims the destination for the instance, atomically; a revert moves it back; a confirm
 * drops the migration consumer. Generation conflicts (an agent's reporter wrote in between) are re-read and resent,
 * up to 4 attempts as Nova does.
 */
final class MovePlacement {
    private static final int ATTEMPTS = 4;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final CloudPlacement placement;

    MovePlacement(CloudPlacement placement) {
        this.placement = placement;
    }

    /**
     * Moves the instance's allocations to consumer {@code migration} and claims {@code destination} for the
     * instance. False when Placement refused the destination for capacity (another candidate may fit).
     */
    boolean moveToMigration(UUID instance, UUID migration, Map<UUID, Map<String, Long>> source,
                            UUID destination, Map<String, Long> wanted) {
        return write(instance, Map.of(destination, wanted), migration, source, "INSTANCE", "MIGRATION");
    }

    /** The revert: the migration consumer's allocations go back to the instance; the migration consumer is emptied. */
    void moveBack(UUID instance, UUID migration) {
        CloudPlacement.Consumer m = consumer(migration);
        if (m.allocations().isEmpty()) {
            return; // moved back already (a revert run again)
        }
        if (!write(instance, m.allocations(), migration, Map.of(), "INSTANCE", "MIGRATION")) {
            throw new IllegalStateException("Placement refused to move migration " + migration + "'s allocations "
                    + "back to instance " + instance + " for capacity");
        }
    }

    /** The confirm: the source's usage held by the migration consumer is freed. */
    boolean dropMigration(UUID migration) {
        return retried(() -> placement.release(migration));
    }

    /** The instance's allocations now. */
    CloudPlacement.Consumer consumer(UUID c) {
        return retried(() -> placement.consumer(c));
    }

    /**
     * Runs a Placement call again after a 5xx (the lab's Placement on SQLite answers 500 "database is locked" when an
     * agent's reporter writes the same consumer at that moment: seen at confirm, the source agent dropping its part
     * of the migration while we delete it), up to 4 attempts, 200 ms apart.
     */
    private static <T> T retried(java.util.function.Supplier<T> call) {
        for (int attempt = 1; ; attempt++) {
            try {
                return call.get();
            } catch (PlacementException.BadAnswer e) {
                if (e.status() < 500 || attempt >= ATTEMPTS) {
                    throw e;
                }
            }
            try {
                Thread.sleep(200L * attempt);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while retrying Placement", e);
            }
        }
    }

    private boolean write(UUID first, Map<UUID, Map<String, Long>> firstAllocations, UUID second,
                          Map<UUID, Map<String, Long>> secondAllocations, String firstType, String secondType) {
        for (int attempt = 1; ; attempt++) {
            CloudPlacement.Consumer a = consumer(first);
            CloudPlacement.Consumer b = consumer(second);
            ObjectNode body = JSON.createObjectNode();
            entry(body, first, firstAllocations, a.generation(), firstType);
            entry(body, second, secondAllocations, b.generation(), secondType);
            try {
                retried(() -> placement.client().post("/allocations", body));
                return true;
            } catch (PlacementException.Refused e) {
                if (e.status() != 409) {
                    throw e;
                }
                if (!e.concurrentUpdate()) {
                    return false; // "... would exceed the capacity"
                }
                if (attempt >= ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    private static void entry(ObjectNode body, UUID consumer, Map<UUID, Map<String, Long>> allocations,
                              Long generation, String type) {
        ObjectNode c = body.putObject(consumer.toString());
        ObjectNode all = c.putObject("allocations");
        allocations.forEach((rp, res) -> {
            ObjectNode r = all.putObject(rp.toString()).putObject("resources");
            res.forEach(r::put);
        });
        c.put("project_id", ProviderCalls.PROJECT).put("user_id", ProviderCalls.USER).put("consumer_type", type);
        if (generation == null) {
            c.putNull("consumer_generation");
        } else {
            c.put("consumer_generation", generation);
        }
    }
}
