package org.berth.agent.console;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.ExecSpec;

/** The outstanding one-use tickets, in memory (an agent restart voids them, as it ends the sessions). */
final class Tickets {
    /** Outstanding tickets at most: beyond, the oldest is dropped (an unused ticket costs memory until it expires). */
    static final int MAX_OUTSTANDING = 1024;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Duration ttl;
    private final Clock clock;
    private final Map<String, Ticket> byId = new LinkedHashMap<>();

    Tickets(Duration ttl, Clock clock) {
        this.ttl = ttl;
        this.clock = clock;
    }

    synchronized Ticket issue(UUID uuid, SessionKind kind, Optional<ExecSpec> exec, String who) {
        expire();
        if (byId.size() >= MAX_OUTSTANDING) {
            byId.remove(byId.keySet().iterator().next());
        }
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        Ticket t = new Ticket(Base64.getUrlEncoder().withoutPadding().encodeToString(raw), uuid, kind, exec,
                clock.instant().plus(ttl), who);
        byId.put(t.id(), t);
        return t;
    }

    /**
     * The ticket, removed (one use), if it exists, has not expired and was issued for this instance and kind; a
     * ticket presented for another instance or kind is spent all the same (whoever holds it is probing).
     */
    synchronized Optional<Ticket> redeem(String id, UUID uuid, SessionKind kind) {
        expire();
        Ticket t = id == null ? null : byId.remove(id);
        if (t == null || !t.uuid().equals(uuid) || t.kind() != kind) {
            return Optional.empty();
        }
        return Optional.of(t);
    }

    /** Voids every outstanding ticket (the token they were issued under was rotated). */
    synchronized void clear() {
        byId.clear();
    }

    private void expire() {
        var now = clock.instant();
        byId.values().removeIf(t -> !t.expiresAt().isAfter(now));
    }
}
