package org.berth.agent.store;

import java.time.Instant;
import java.util.UUID;

/** One line of an instance's history: a task start/end, a lifecycle event, a reconcile decision. */
public record StoredEvent(long id, UUID uuid, String requestId, String kind, String detail, Instant at) {
}
