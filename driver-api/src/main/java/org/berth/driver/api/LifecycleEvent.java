package org.berth.driver.api;

import java.time.Instant;
import java.util.UUID;

/**
 * A change of an instance's power state that the backend reported (Nova's virt lifecycle events).
 *
 * @param uuid       the instance
 * @param transition what happened
 * @param at         when the driver saw it
 */
public record LifecycleEvent(UUID uuid, Transition transition, Instant at) {
    public LifecycleEvent {
        Check.notNull(uuid, "event.uuid");
        Check.notNull(transition, "event.transition");
        Check.notNull(at, "event.at");
    }

    /** Nova's lifecycle transitions plus CRASHED for an instance that died without being asked. */
    public enum Transition {
        STARTED(PowerState.RUNNING),
        STOPPED(PowerState.SHUTDOWN),
        PAUSED(PowerState.PAUSED),
        RESUMED(PowerState.RUNNING),
        SUSPENDED(PowerState.SUSPENDED),
        CRASHED(PowerState.CRASHED);

        private final PowerState powerState;

        Transition(PowerState powerState) {
            this.powerState = powerState;
        }

        /** The power state an instance is in right after this transition. */
        public PowerState powerState() {
            return powerState;
        }
    }
}
