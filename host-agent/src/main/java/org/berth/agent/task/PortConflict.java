package org.berth.agent.task;

import java.util.UUID;

/**
 * A VIF whose host device ({@code tap} + the first 11 characters of the port id, as Nova names it) another
 * instance on this host already uses: plugging it would take that instance's device away (409, the field named).
 */
public final class PortConflict extends RuntimeException {
    private final String field;

    public PortConflict(String field, String portId, String device, UUID owner, String ownerPort) {
        super(field + ": port " + portId + " needs device " + device + ", which instance " + owner + " uses for port "
                + ownerPort + "; port ids on one host must differ in their first 11 characters");
        this.field = field;
    }

    public String field() {
        return field;
    }
}
