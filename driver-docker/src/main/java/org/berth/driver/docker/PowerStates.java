package org.berth.driver.docker;

import com.github.dockerjava.api.command.InspectContainerResponse;
import org.berth.driver.api.PowerState;

/** Docker's container states in Nova's power states; PAUSED is reported (nova-docker did not). */
final class PowerStates {
    private PowerStates() {
    }

    static PowerState of(InspectContainerResponse c) {
        var s = c.getState();
        if (s == null) {
            return PowerState.NOSTATE;
        }
        return of(s.getStatus(), Boolean.TRUE.equals(s.getOOMKilled()));
    }

    /** From the engine's {@code State.Status} (also {@code Container.State} of a list). */
    static PowerState of(String status, boolean oomKilled) {
        if (status == null) {
            return PowerState.NOSTATE;
        }
        return switch (status) {
            case "running", "restarting" -> PowerState.RUNNING;
            case "paused" -> PowerState.PAUSED;
            case "exited" -> oomKilled ? PowerState.CRASHED : PowerState.SHUTDOWN;
            case "created" -> PowerState.SHUTDOWN;
            case "dead" -> PowerState.CRASHED;
            default -> PowerState.NOSTATE; // "removing" and anything newer engines invent
        };
    }
}
