package org.berth.agent.store;

/** Input that breaks a rule, naming the field (JSON path) and the rule; the API answers 400 with both. */
public final class FieldError extends IllegalArgumentException {
    private final String field;
    private final String rule;

    public FieldError(String field, String rule, String message) {
        super(field + ": " + message);
        this.field = field;
        this.rule = rule;
    }

    public String field() {
        return field;
    }

    public String rule() {
        return rule;
    }
}
