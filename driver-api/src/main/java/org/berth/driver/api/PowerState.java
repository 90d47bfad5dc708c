package org.berth.driver.api;

/**
 * The power state of an instance as the backend reports it, with Nova's numeric codes
 * ({@code nova/compute/power_state.py}) so a scheduler or an operator's tooling reads the same numbers.
 */
public enum PowerState {
    NOSTATE(0),
    RUNNING(1),
    PAUSED(3),
    SHUTDOWN(4),
    CRASHED(6),
    SUSPENDED(7);

    private final int code;

    PowerState(int code) {
        this.code = code;
    }

    /** Nova's numeric code for this state. */
    public int code() {
        return code;
    }

    /** The state with Nova's numeric {@code code}. */
    public static PowerState ofCode(int code) {
        for (PowerState s : values()) {
            if (s.code == code) {
                return s;
            }
        }
        throw new IllegalArgumentException("power state code: " + code + " is not one of Nova's codes 0, 1, 3, 4, 6, 7");
    }
}
