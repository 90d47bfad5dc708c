package org.berth.agent.cli;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.berth.ovs.link.Commands;

/**
 * The controlling terminal in raw mode for an interactive session (keys go to the instance as typed, Ctrl-C
 * included), restored on every way out: the normal end, an exception, and SIGTERM/SIGINT through a shutdown hook.
 * stty through Commons Exec with argument arrays ({@code -F /dev/tty}: our stdin may be a pipe).
 */
final class RawTerminal implements AutoCloseable {
    private static final Commands STTY = new Commands(Duration.ofSeconds(5));
    private final String saved;
    private final AtomicBoolean restored = new AtomicBoolean();
    private final Thread hook = new Thread(this::restore, "berth-terminal-restore");

    private RawTerminal(String saved) {
        this.saved = saved;
    }

    /** Raw mode when stdin and stdout are a terminal; empty otherwise (a pipe needs nothing). */
    static Optional<RawTerminal> enter() {
        if (!isTerminal(0) || !isTerminal(1)) {
            return Optional.empty();
        }
        Commands.Result saved;
        try {
            saved = STTY.tryRun(List.of("stty", "-F", "/dev/tty", "-g"), null);
        } catch (RuntimeException e) {
            return Optional.empty(); // no stty: the session still works, in the terminal's cooked mode
        }
        if (saved.exitCode() != 0) {
            return Optional.empty();
        }
        RawTerminal t = new RawTerminal(saved.stdout().strip());
        Runtime.getRuntime().addShutdownHook(t.hook);
        STTY.tryRun(List.of("stty", "-F", "/dev/tty", "raw", "-echo"), null);
        return Optional.of(t);
    }

    /** Whether our file descriptor {@code fd} is a terminal (Linux: /proc names its device). */
    private static boolean isTerminal(int fd) {
        try {
            String target = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + fd)).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** The terminal's size as {columns, rows}, if it can be read. */
    static Optional<int[]> size() {
        Commands.Result r;
        try {
            r = STTY.tryRun(List.of("stty", "-F", "/dev/tty", "size"), null);
        } catch (RuntimeException e) {
            return Optional.empty();
        }
        String[] f = r.stdout().strip().split("\\s+");
        if (r.exitCode() != 0 || f.length != 2) {
            return Optional.empty();
        }
        try {
            return Optional.of(new int[] {Integer.parseInt(f[1]), Integer.parseInt(f[0])});
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    private void restore() {
        if (restored.compareAndSet(false, true)) {
            try {
                STTY.tryRun(List.of("stty", "-F", "/dev/tty", saved), null);
            } catch (RuntimeException e) {
                System.err.println("berth: could not restore the terminal (run 'stty sane'): " + e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        restore();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // already shutting down: the hook runs (and finds it restored)
        }
    }
}
