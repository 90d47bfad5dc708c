package org.berth.agent.config;

import java.time.Duration;

/**
 * Interactive sessions ({@code console.*}): WebSocket consoles and execs (host-agent/README.md, "Interactive access").
 *
 * @param maxSessions            {@code console.max_sessions}: console and exec sessions open at once on this agent
 * @param maxSessionsPerInstance {@code console.max_sessions_per_instance}: sessions open at once on one instance
 *                               (a VM's console is one of them and has one writer at a time whatever this says)
 * @param idleTimeout            {@code console.idle_timeout}: a session with no byte either way for this long is closed
 * @param maxFrameBytes          {@code console.max_frame_bytes}: a larger WebSocket frame closes the session with
 *                               1009 (message too big)
 * @param ticketTtl              {@code console.ticket_ttl}: how long a one-use ticket from {@code POST …/console} or
 *                               {@code POST …/exec} stays valid
 */
public record ConsoleConfig(int maxSessions, int maxSessionsPerInstance, Duration idleTimeout, int maxFrameBytes,
                            Duration ticketTtl) {
    public static final ConsoleConfig DEFAULTS = new ConsoleConfig(64, 8, Duration.ofMinutes(10), 64 * 1024,
            Duration.ofSeconds(60));

    public ConsoleConfig {
        if (maxSessions < 1 || maxSessionsPerInstance < 1 || maxFrameBytes < 1024) {
            throw new IllegalArgumentException("console limits must be positive, max_frame_bytes at least 1024");
        }
        if (idleTimeout == null || idleTimeout.isNegative() || idleTimeout.isZero()
                || ticketTtl == null || ticketTtl.isNegative() || ticketTtl.isZero()) {
            throw new IllegalArgumentException("console durations must be positive");
        }
    }
}
