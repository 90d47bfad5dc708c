package org.berth.driver.api;

import java.util.regex.Pattern;

/** Constructor checks shared by the records: every message names the field and the rule it broke. */
final class Check {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}");

    private Check() {
    }

    static <T> T notNull(T value, String field) {
        if (value == null) {
            throw new IllegalArgumentException(field + ": must be given");
        }
        return value;
    }

    static String notBlank(String value, String field) {
        notNull(value, field);
        if (value.isBlank()) {
            throw new IllegalArgumentException(field + ": must not be empty");
        }
        return value;
    }

    /** A name: 1 to 255 characters, letters, digits and {@code . _ : @ -}, not starting with punctuation. */
    static String name(String value, String field) {
        notBlank(value, field);
        if (!NAME.matcher(value).matches()) {
            throw new IllegalArgumentException(field + ": '" + printable(value)
                    + "' must be 1-255 characters of letters, digits and . _ : @ - and start with a letter or digit");
        }
        return value;
    }

    static int atLeast(int value, int min, String field) {
        if (value < min) {
            throw new IllegalArgumentException(field + ": " + value + " must be >= " + min);
        }
        return value;
    }

    static long atLeast(long value, long min, String field) {
        if (value < min) {
            throw new IllegalArgumentException(field + ": " + value + " must be >= " + min);
        }
        return value;
    }

    static int between(int value, int min, int max, String field) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(field + ": " + value + " must be between " + min + " and " + max);
        }
        return value;
    }

    /** Cuts user input to a safe length for an error message and hides control characters. */
    static String printable(String value) {
        String cut = value.length() > 64 ? value.substring(0, 64) + "…" : value;
        return cut.replaceAll("\\p{Cntrl}", "?");
    }
}
