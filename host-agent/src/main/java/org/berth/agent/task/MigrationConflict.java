package org.berth.agent.task;

/** A move action the instance's migration state does not allow (409, the field and the rule named). */
public final class MigrationConflict extends RuntimeException {
    private final String field;
    private final String rule;

    public MigrationConflict(String field, String rule, String message) {
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
