package org.berth.agent.api;

/** An error answered as {@code {"error": {"field", "rule", "message"}}} with this HTTP status. */
public final class ApiError extends RuntimeException {
    private final int status;
    private final String field;
    private final String rule;

    public ApiError(int status, String field, String rule, String message) {
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
