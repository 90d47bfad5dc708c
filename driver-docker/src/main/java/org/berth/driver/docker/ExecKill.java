package org.berth.driver.docker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Kills an exec's process: the engine has no API for it (closing a hijacked stream without a TTY leaves the
 * command running), so the driver, which runs as root beside the engine, SIGKILLs it by its host pid. A pid can be
 * reused once its process ends, so a pid is only killed while it is in the container's pid namespace (the same
 * {@code /proc/<pid>/ns/pid} as the container's init); its descendants first, so none is left behind reparented to
 * the container's init. A child forked between the listing and the kill would survive: a command that forks that
 * fast is stopped with its container.
 */
final class ExecKill {
    private static final Duration EXIT_WAIT = Duration.ofSeconds(2);

    private ExecKill() {
    }

    /**
     * Kills {@code pid} and its descendants if it is in the pid namespace of {@code containerInit}'s, and waits
     * (at most {@link #EXIT_WAIT}) until they are gone.
     *
     * @return whether the process was found in the container and killed
     */
    static boolean kill(long pid, long containerInit) {
        if (pid <= 0 || containerInit <= 0 || pid == containerInit) {
            return false; // never the container's init: that is a power off
        }
        Optional<String> ns = pidNamespace(pid);
        if (ns.isEmpty() || !ns.equals(pidNamespace(containerInit))) {
            return false; // ended, or the pid now belongs to a process outside the container
        }
        Optional<ProcessHandle> root = ProcessHandle.of(pid);
        if (root.isEmpty()) {
            return false;
        }
        List<ProcessHandle> tree = new ArrayList<>(root.get().descendants().toList());
        tree.add(root.get());
        tree.forEach(ProcessHandle::destroyForcibly);
        long deadline = System.nanoTime() + EXIT_WAIT.toNanos();
        while (tree.stream().anyMatch(ExecKill::running) && System.nanoTime() - deadline < 0) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return true;
    }

    /** Alive and not a zombie waiting for its parent (the engine's shim reaps it). */
    private static boolean running(ProcessHandle p) {
        if (!p.isAlive()) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
            int afterName = stat.lastIndexOf(')');
            return afterName < 0 || afterName + 2 >= stat.length() || stat.charAt(afterName + 2) != 'Z';
        } catch (IOException e) {
            return false; // gone
        }
    }

    private static Optional<String> pidNamespace(long pid) {
        try {
            return Optional.of(Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "ns", "pid")).toString());
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }
}
