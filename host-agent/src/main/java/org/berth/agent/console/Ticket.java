package org.berth.agent.console;

import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.ExecSpec;

/**
 * A one-use, short-lived credential for one session (Nova's console auth token): what {@code POST …/console} or
 * {@code POST …/exec} answers, for clients that cannot set an Authorization header on a WebSocket (browsers).
 *
 * @param id        32 random bytes, URL-safe base64; never logged
 * @param exec      the command an exec ticket runs; empty for a console
 * @param issuedTo  who asked for it (peer address, client certificate), recorded with the session's events
 */
public record Ticket(String id, UUID uuid, SessionKind kind, Optional<ExecSpec> exec, Instant expiresAt,
                     String issuedTo) {
}
