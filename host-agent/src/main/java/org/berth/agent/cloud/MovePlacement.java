package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
import java.util.UUID;
import org.berth.agent.cli.CliException;
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

    /** What a write came to. */
    private enum Outcome { WRITTEN, NO_ROOM, CHANGED }

    /**
     * Moves the instance's allocations to consumer {@code migration} and claims {@code destination} for the
     * instance. False when Placement refused the destination for capacity (another candidate may fit).
     *
     * @param decided the instance's consumer as read when the move was decided on: the write carries its generation,
     *                so a concurrent move's write in between makes it fail rather than overwrite that move's claim
     */
    boolean moveToMigration(UUID instance, CloudPlacement.Consumer decided, UUID migration,
                            Map<UUID, Map<String, Long>> source, UUID destination, Map<String, Long> wanted) {
        CloudPlacement.Consumer m = consumer(migration);
        Outcome o = write(instance, Map.of(destination, wanted), migration, source, decided, m,
                // (the source's reporter writing the usage decided on, where there was none yet, is no change)
                (i, mm) -> (i.allocations().equals(decided.allocations()) || i.allocations().equals(source))
                        && mm.allocations().equals(m.allocations()));
        if (o == Outcome.CHANGED) {
            throw new CliException.Failed("instance " + instance + "'s allocations changed meanwhile (another "
                    + "move?): nothing was moved; run berth cloud migrate " + instance + " again to see where it is");
        }
        return o == Outcome.WRITTEN;
    }

    /** The revert: the migration consumer's allocations go back to the instance; the migration consumer is emptied. */
    void moveBack(UUID instance, UUID migration) {
        CloudPlacement.Consumer m = consumer(migration);
        if (m.allocations().isEmpty()) {
            return; // moved back already (a revert run again)
        }
        Outcome o = write(instance, m.allocations(), migration, Map.of(), consumer(instance), m,
                (i, mm) -> mm.allocations().equals(m.allocations()));
        if (o == Outcome.NO_ROOM) {
            throw new IllegalStateException("Placement refused to move migration " + migration + "'s allocations "
                    + "back to instance " + instance + " for capacity");
        }
        if (o == Outcome.CHANGED) {
            throw new IllegalStateException("migration " + migration + "'s allocations changed meanwhile (another "
                    + "revert?)");
        }
    }

    /**
     * Gives back exactly what a move wrote: the migration consumer's allocations go back to the instance only while
     * it still holds {@code held} and the instance holds the destination claim it wrote ({@code claimed}; next to
     * the source's own part at most, which the source's reporter may have written back). False when left alone.
     */
    boolean giveBack(UUID instance, UUID migration, Map<UUID, Map<String, Long>> claimed,
                     Map<UUID, Map<String, Long>> held) {
        java.util.function.BiPredicate<CloudPlacement.Consumer, CloudPlacement.Consumer> asWritten = (i, mm) ->
                mm.allocations().equals(held) && i.allocations().entrySet().stream().allMatch(e ->
                        e.getValue().equals(claimed.get(e.getKey())) || e.getValue().equals(held.get(e.getKey())))
                        && i.allocations().keySet().containsAll(claimed.keySet());
        CloudPlacement.Consumer i = consumer(instance);
        CloudPlacement.Consumer m = consumer(migration);
        if (!asWritten.test(i, m)) {
            return false;
        }
        Outcome o = write(instance, held, migration, Map.of(), i, m, asWritten);
        if (o == Outcome.NO_ROOM) {
            throw new IllegalStateException("Placement refused to move migration " + migration + "'s allocations "
                    + "back to instance " + instance + " for capacity");
        }
        return o == Outcome.WRITTEN;
    }

    /** The confirm: the source's usage held by the migration consumer is freed. */
    boolean dropMigration(UUID migration) {
        return placement.release(migration);
    }

    /** The instance's allocations now. */
    CloudPlacement.Consumer consumer(UUID c) {
        return placement.consumer(c);
    }


    /**
     * Writes both consumers with the generations of {@code a} and {@code b} (as read when the caller decided what to
     * write). A generation conflict re-reads them: if they still are as decided ({@code asDecided}: an agent's
     * reporter rewrote the same usage) the write is sent again with the new generations, else CHANGED.
     */
    private Outcome write(UUID first, Map<UUID, Map<String, Long>> firstAllocations, UUID second,
                          Map<UUID, Map<String, Long>> secondAllocations, CloudPlacement.Consumer a,
                          CloudPlacement.Consumer b,
                          java.util.function.BiPredicate<CloudPlacement.Consumer, CloudPlacement.Consumer> asDecided) {
        for (int attempt = 1; ; attempt++) {
            ObjectNode body = JSON.createObjectNode();
            entry(body, first, firstAllocations, a.generation(), "INSTANCE");
            entry(body, second, secondAllocations, b.generation(), "MIGRATION");
            try {
                placement.client().post("/allocations", body);
                return Outcome.WRITTEN;
            } catch (PlacementException.Refused e) {
                if (e.status() != 409) {
                    throw e;
                }
                if (!e.concurrentUpdate()) {
                    return Outcome.NO_ROOM; // "... would exceed the capacity"
                }
                if (attempt >= ATTEMPTS) {
                    throw e;
                }
            }
            a = consumer(first);
            b = consumer(second);
            if (!asDecided.test(a, b)) {
                return Outcome.CHANGED;
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
