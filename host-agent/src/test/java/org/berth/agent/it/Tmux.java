package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Predicate;
import org.berth.conformance.host.HostCommand;

/**
 * A terminal a user types into: a tmux session of its own (own socket, so the machine's tmux server is never
 * touched) running an interactive sh, driven with send-keys and read with capture-pane. Closed (server killed) by
 * {@link #close()}.
 */
final class Tmux implements AutoCloseable {
    private static final Duration CALL = Duration.ofSeconds(15);
    private final String socket = "berth-test-" + UUID.randomUUID().toString().substring(0, 8);
    private final String session = "t";

    Tmux() {
        HostCommand.Result r = tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", "sh");
        assertEquals(0, r.exitCode(), "tmux new-session: " + r.stderr());
    }

    /** Types {@code text} literally, then Enter. */
    void line(String text) {
        keys(text);
        tmux("send-keys", "-t", session, "Enter");
    }

    /** Types {@code text} literally (no Enter). */
    void keys(String text) {
        HostCommand.Result r = tmux("send-keys", "-t", session, "-l", text);
        assertEquals(0, r.exitCode(), "tmux send-keys: " + r.stderr());
    }

    /** Presses a key by tmux's name for it, e.g. {@code C-]}. */
    void key(String name) {
        tmux("send-keys", "-t", session, name);
    }

    /** What the pane shows now, with its scrollback. */
    String screen() {
        return tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session).stdout();
    }

    /** Waits (bounded) until the screen satisfies {@code cond}; returns it, or fails showing it. */
    String await(String what, Duration limit, Predicate<String> cond) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        String s = screen();
        while (!cond.test(s)) {
            if (System.nanoTime() > end) {
                throw new AssertionError("tmux: timed out after " + limit.toSeconds() + " s waiting for " + what
                        + "; the screen:\n" + s);
            }
            Thread.sleep(100);
            s = screen();
        }
        return s;
    }

    private HostCommand.Result tmux(String... args) {
        List<String> all = new ArrayList<>(List.of("-L", socket));
        all.addAll(List.of(args));
        String tmux = HostCommand.find("tmux").map(Object::toString).orElse("tmux");
        return HostCommand.run(CALL, tmux, all.toArray(String[]::new));
    }

    @Override
    public void close() {
        tmux("kill-server");
    }
}
