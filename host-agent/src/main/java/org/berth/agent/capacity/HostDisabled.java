package org.berth.agent.capacity;

/** The host is disabled ({@code berth host disable}): it takes no new instance. */
public final class HostDisabled extends RuntimeException {
    private final String reason;

    public HostDisabled(String reason) {
        super("this host is disabled and takes no new instance: " + reason + " (berth host enable)");
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}
