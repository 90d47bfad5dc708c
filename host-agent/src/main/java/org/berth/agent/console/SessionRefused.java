package org.berth.agent.console;

/**
 * A console or exec session refused before it opened, with the HTTP status the API answers (before any WebSocket
 * upgrade) and the field and rule it broke.
 */
public final class SessionRefused extends RuntimeException {
    private final int status;
    private final String field;
    private final String rule;

    SessionRefused(int status, String field, String rule, String message) {
        super(message);
        this.status = status;
        this.field = field;
        this.rule = rule;
    }

    public int status() {
        return status;
    }

    public String field() {
        return field;
    }

    public String rule() {
        return rule;
    }
}
