package org.berth.agent.placement;

import java.lang.System.Logger.Level;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes and removes this provider's part of a consumer's allocations, keeping the consumer's allocations on other
 * providers, with Placement's consumer generations (409 {@code placement.concurrent_update}: re-read, resend,
 * {@value PlacementReporter#ATTEMPTS} attempts). Used by the reporter thread only.
 */
final class ConsumerWrites {
    private static final System.Logger LOG = System.getLogger(ConsumerWrites.class.getName());
    private static final int ATTEMPTS = PlacementReporter.ATTEMPTS;

    private final ProviderCalls calls;

    ConsumerWrites(ProviderCalls calls) {
        this.calls = calls;
    }

    /**
     * Makes this provider's part of the consumer's allocation {@code resources}, keeping its allocations on other
     * providers. The first try assumes a new consumer (no read); a consumer Placement already knows (a scheduler's
     * claim, an earlier write) is read and, if it already holds exactly this, left as it is (never claimed twice).
     */
    void writeOurs(UUID consumer, Map<String, Long> resources) {
        String rp = calls.uuid().toString();
        ProviderCalls.Consumer c = ProviderCalls.Consumer.none();
        for (int attempt = 1; ; attempt++) {
            Map<String, Map<String, Long>> by = new HashMap<>(c.byProvider());
            by.put(rp, resources);
            PlacementException.Refused conflict;
            try {
                calls.putConsumer(consumer, new ProviderCalls.Consumer(c.generation(), by, c.projectId(), c.userId()));
                return;
            } catch (PlacementException.Refused e) {
                if (!e.concurrentUpdate() || attempt >= ATTEMPTS) {
                    throw e;
                }
                conflict = e;
            }
            c = calls.consumer(consumer);
            if (resources.equals(c.byProvider().get(rp))) {
                return;
            }
            if (c.generation() == null) {
                c = emptyConsumer(consumer, conflict);
            }
        }
    }

    private static final Pattern EXPECTED = Pattern.compile("expected (\\d+) but got None");

    /**
     * Placement can keep a consumer that has no allocations left (seen when allocations were deleted while this
     * provider's sync wrote others); {@code GET /allocations/{c}} then shows no generation, and only the refusal
     * names the one it expects. That generation is used, so the heal does not stall on such a consumer.
     */
    private static ProviderCalls.Consumer emptyConsumer(UUID consumer, PlacementException.Refused conflict) {
        Matcher m = EXPECTED.matcher(conflict.getMessage());
        if (!m.find()) {
            return ProviderCalls.Consumer.none();
        }
        LOG.log(Level.INFO, "placement: consumer " + consumer + " exists without allocations (generation "
                + m.group(1) + "); writing with that generation");
        return new ProviderCalls.Consumer(Long.parseLong(m.group(1)), Map.of(), ProviderCalls.PROJECT, ProviderCalls.USER);
    }

    /** Removes this provider's part of the consumer's allocation; other providers' parts stay. */
    void removeOurs(UUID consumer) {
        String rp = calls.uuid().toString();
        for (int attempt = 1; ; attempt++) {
            ProviderCalls.Consumer c = calls.consumer(consumer);
            if (!c.byProvider().containsKey(rp)) {
                return;
            }
            try {
                if (c.generation() == null) {
                    calls.deleteConsumer(consumer); // no generation to guard a write with (only ours was read)
                } else {
                    // a PUT with the generation read, even when ours is the only part left (empty allocations
                    // delete them): a plain DELETE would also take a claim another provider added since the read
                    Map<String, Map<String, Long>> by = new HashMap<>(c.byProvider());
                    by.remove(rp);
                    calls.putConsumer(consumer, new ProviderCalls.Consumer(c.generation(), by, c.projectId(),
                            c.userId()));
                }
                return;
            } catch (PlacementException.Refused e) {
                if (!e.concurrentUpdate() || attempt >= ATTEMPTS) {
                    throw e;
                }
            }
        }
    }
}
