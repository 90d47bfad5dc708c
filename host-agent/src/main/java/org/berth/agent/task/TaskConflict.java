package org.berth.agent.task;

import java.util.UUID;

/** A second task on an instance while one runs (one task at a time per instance, as Nova's task_state). */
public final class TaskConflict extends RuntimeException {
    private final String running;

    public TaskConflict(UUID uuid, String running) {
        super("instance " + uuid + " is busy with task '" + running + "'; retry when it has finished");
        this.running = running;
    }

    public String running() {
        return running;
    }
}
