package org.berth.agent.store;

import java.util.Locale;
import org.berth.driver.api.PowerState;

/** Nova's vm_state: what the agent believes the instance is, next to the backend's power state. */
public enum VmState {
    BUILDING, ACTIVE, PAUSED, SUSPENDED, STOPPED, ERROR, DELETED;

    public String apiName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The vm_state that matches a power state the backend reported. */
    public static VmState of(PowerState power) {
        return switch (power) {
            case RUNNING -> ACTIVE;
            case PAUSED -> PAUSED;
            case SUSPENDED -> SUSPENDED;
            case SHUTDOWN -> STOPPED;
            case CRASHED, NOSTATE -> ERROR;
        };
    }
}
