package org.berth.driver.api;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Optional;

/**
 * A driver's options as flat key/value text (from the agent's YAML file, {@code drivers.<name>.<key>}).
 * Typed reads validate and name the option in their error.
 *
 * @param driver  the driver name, used in error messages ({@code drivers.kvm.uri: ...})
 * @param options the raw options
 */
public record DriverConfig(String driver, Map<String, String> options) {
    public DriverConfig {
        Check.name(driver, "driver_config.driver");
        options = Map.copyOf(Check.notNull(options, "driver_config.options"));
    }

    public static DriverConfig empty(String driver) {
        return new DriverConfig(driver, Map.of());
    }

    public Optional<String> string(String key) {
        return Optional.ofNullable(options.get(key)).filter(v -> !v.isBlank());
    }

    public String string(String key, String fallback) {
        return string(key).orElse(fallback);
    }

    public int integer(String key, int fallback, int min, int max) {
        Optional<String> raw = string(key);
        if (raw.isEmpty()) {
            return fallback;
        }
        try {
            int v = Integer.parseInt(raw.get().trim());
            if (v < min || v > max) {
                throw invalid(key, raw.get(), "must be between " + min + " and " + max);
            }
            return v;
        } catch (NumberFormatException e) {
            throw invalid(key, raw.get(), "must be a whole number");
        }
    }

    /** A duration as ISO-8601 ({@code PT30S}) or a number with a unit: {@code 500ms}, {@code 30s}, {@code 2m}. */
    public Duration duration(String key, Duration fallback, Duration max) {
        Optional<String> raw = string(key);
        if (raw.isEmpty()) {
            return fallback;
        }
        Duration d = parseDuration(raw.get().trim());
        if (d == null) {
            throw invalid(key, raw.get(), "must be a duration such as 500ms, 30s, 2m or PT30S");
        }
        if (d.isNegative() || d.isZero() || d.compareTo(max) > 0) {
            throw invalid(key, raw.get(), "must be greater than 0 and at most " + max.toSeconds() + "s");
        }
        return d;
    }

    public <E extends Enum<E>> E choice(String key, Class<E> type, E fallback) {
        Optional<String> raw = string(key);
        if (raw.isEmpty()) {
            return fallback;
        }
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(raw.get().trim())) {
                return e;
            }
        }
        StringBuilder names = new StringBuilder();
        for (E e : type.getEnumConstants()) {
            names.append(names.isEmpty() ? "" : " | ").append(e.name().toLowerCase(java.util.Locale.ROOT));
        }
        throw invalid(key, raw.get(), "must be one of " + names);
    }

    private DriverException.InvalidConfiguration invalid(String key, String value, String rule) {
        return new DriverException.InvalidConfiguration("drivers." + driver + "." + key, Check.printable(value), rule);
    }

    /**
     * Parses a duration as ISO-8601 ({@code PT30S}) or a number with a unit ({@code 500ms}, {@code 30s},
     * {@code 2m}, {@code 1h}; a bare number is seconds). Returns null when the text is neither, so callers name
     * their own option in the error.
     */
    public static Duration parseDuration(String text) {
        try {
            if (text.startsWith("P") || text.startsWith("p")) {
                return Duration.parse(text.toUpperCase(java.util.Locale.ROOT));
            }
            if (text.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(text.substring(0, text.length() - 2)));
            }
            if (text.endsWith("s")) {
                return Duration.ofSeconds(Long.parseLong(text.substring(0, text.length() - 1)));
            }
            if (text.endsWith("m")) {
                return Duration.ofMinutes(Long.parseLong(text.substring(0, text.length() - 1)));
            }
            if (text.endsWith("h")) {
                return Duration.ofHours(Long.parseLong(text.substring(0, text.length() - 1)));
            }
            return Duration.ofSeconds(Long.parseLong(text));
        } catch (NumberFormatException | DateTimeParseException e) {
            return null;
        }
    }
}
