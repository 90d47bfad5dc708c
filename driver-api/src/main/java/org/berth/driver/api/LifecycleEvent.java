package org.berth.driver.api;

import java.time.Instant;
import java.util.UUID;

/**
 * A change of an instance's power state that the backend reported (Nova's virt lifecycle events). A driver with
 * {@link Capability#LIFECYCLE_EVENTS} publishes exactly these, in this order, for each operation (and no others):
 * <table>
 * <caption>events per operation</caption>
 * <tr><th>operation</th><th>events</th></tr>
 * <tr><td>spawn (powered on), power_on of a SHUTDOWN instance</td><td>STARTED</td></tr>
 * <tr><td>pause of a RUNNING instance</td><td>PAUSED</td></tr>
 * <tr><td>unpause</td><td>RESUMED</td></tr>
 * <tr><td>power_off of a RUNNING instance</td><td>STOPPED</td></tr>
 * <tr><td>reboot HARD of a RUNNING instance</td><td>STOPPED, STARTED</td></tr>
 * <tr><td>destroy of a RUNNING instance</td><td>STOPPED</td></tr>
 * <tr><td>a call that finds the instance already in the wanted state</td><td>none</td></tr>
 * </table>
 * A guest that stops or dies on its own yields STOPPED or CRASHED.
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
