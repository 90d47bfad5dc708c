package org.berth.agent.config;

/** An agent option broke its rule; the message starts with the option's name. */
public final class ConfigException extends RuntimeException {
    private final String option;

    public ConfigException(String option, String message) {
        super(option + ": " + message);
        this.option = option;
    }

    public String option() {
        return option;
    }
}
