package org.berth.agent.placement;

import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.berth.agent.reconcile.EvacuatedCheck;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.SpecJson;

/**
 * Placement's answer to "was this instance evacuated while this host was down": its consumer has allocations on
 * other providers. Nova's evacuate keeps the source's part with the destination's until the source comes back, so
 * the destination sees the same picture; it is told apart by the property {@value EvacuatedCheck#EVACUATED_FROM} that
 * {@code berth cloud evacuate} puts in the rebuilt instance's spec (the source's host name): a record whose other
 * holders are all sources it names is the rebuilt copy, never the stale one. Stateless, thread-safe.
 */
final class PlacementEvacuatedCheck implements EvacuatedCheck {
    private final PlacementClient client;
    private final ProviderCalls calls;
    private final ConsumerWrites writes;

    PlacementEvacuatedCheck(PlacementClient client, ProviderCalls calls) {
        this.client = client;
        this.calls = calls;
        this.writes = new ConsumerWrites(calls);
    }

    @Override
    public String rebuiltOn(InstanceRecord r) {
        String ours = calls.uuid().toString();
        Set<String> others = new TreeSet<>(calls.consumer(r.uuid()).byProvider().keySet());
        // evacuate keeps the source's part next to the destination's until the source is back: without this
        // host's part the consumer moved for another reason (a migration's source cut off before it recorded its
        // marker holds its usage under the migration's consumer): never a reason to destroy the local copy
        if (!others.remove(ours) || others.isEmpty()) {
            return null;
        }
        if (rebuiltHereFromAll(r, others)) {
            return null; // this is the rebuilt copy; the dead source's part is still held, as Nova does
        }
        return String.join(", ", others.stream().map(this::name).toList());
    }

    /**
     * True when every other holder is a host this copy names as evacuated from. Only then is it the rebuilt copy:
     * a holder it does not name is a later destination (a chained evacuation: C evacuated to A, C still dead, then
     * A evacuated to B gives {C, A, B}, and A's copy names C only), so it is the stale one. The property may name a
     * chain "C,A" (oldest first) for a copy evacuated twice whose earlier sources are still dead.
     */
    private boolean rebuiltHereFromAll(InstanceRecord r, Set<String> others) {
        String named = SpecJson.readString(r.specJson()).property(EVACUATED_FROM, null);
        if (named == null || named.isBlank()) {
            return false;
        }
        Set<String> sources = new TreeSet<>();
        for (String host : named.split(",")) {
            UUID rp = host.isBlank() ? null : providerUuid(host.strip());
            if (rp != null) {
                sources.add(rp.toString());
            }
        }
        return sources.containsAll(others);
    }

    @Override
    public void releaseOurs(UUID uuid) {
        writes.removeOurs(uuid);
    }

    private UUID providerUuid(String name) {
        for (var rp : client.get("/resource_providers?name=" + name).body().path("resource_providers")) {
            if (name.equals(rp.path("name").asText())) {
                return UUID.fromString(rp.path("uuid").asText());
            }
        }
        return null;
    }

    /** The provider's name (a host), or its uuid when Placement no longer has it. */
    private String name(String uuid) {
        PlacementClient.Answer a = client.get("/resource_providers/" + uuid);
        return a.status() == 404 ? uuid : a.body().path("name").asText(uuid);
    }
}
