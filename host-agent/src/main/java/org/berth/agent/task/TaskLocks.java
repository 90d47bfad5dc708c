package org.berth.agent.task;

import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/** The task running on each instance, at most one. */
public final class TaskLocks {
    private final ConcurrentHashMap<UUID, String> running = new ConcurrentHashMap<>();

    /** @throws TaskConflict naming the running task */
    public synchronized void begin(UUID uuid, String task) {
        String other = running.putIfAbsent(uuid, task);
        if (other != null) {
            throw new TaskConflict(uuid, other);
        }
    }

    /** Like {@link #begin} but returns false instead of throwing (for reconcile, which skips busy instances). */
    public synchronized boolean tryBegin(UUID uuid, String task) {
        return running.putIfAbsent(uuid, task) == null;
    }

    public synchronized void end(UUID uuid) {
        running.remove(uuid);
    }

    /**
     * Runs the task's last store write and releases the instance atomically with respect to {@link #begin}: a client
     * that has seen {@code task_state: null} can start the next task at once.
     */
    public synchronized void endWith(UUID uuid, Runnable lastWrite) {
        try {
            lastWrite.run();
        } finally {
            running.remove(uuid);
        }
    }

    public Optional<String> running(UUID uuid) {
        return Optional.ofNullable(running.get(uuid));
    }

    public int count() {
        return running.size();
    }
}
