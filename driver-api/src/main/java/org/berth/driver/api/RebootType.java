package org.berth.driver.api;

/** Nova's two reboot types. */
public enum RebootType {
    /** Guest-cooperative: shut down and start again; falls back to {@link #HARD} after the driver's timeout. */
    SOFT,
    /** Reset or restart from whatever state, also from PAUSED and SHUTDOWN; repairs a lost definition. */
    HARD
}
