package org.berth.ovs;

import java.util.ArrayDeque;
import java.util.Deque;

/** Undo steps of one plug call, run newest first when the call fails; an undo failure is kept as suppressed. */
final class Rollback {
    interface Step {
        void undo() throws Exception;
    }

    private final Deque<Step> steps = new ArrayDeque<>();

    void add(Step step) {
        steps.push(step);
    }

    void run(Throwable failure) {
        while (!steps.isEmpty()) {
            try {
                steps.pop().undo();
            } catch (Exception e) {
                failure.addSuppressed(e);
            }
        }
    }
}
