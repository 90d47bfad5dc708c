package org.berth.driver.api;

import java.util.Locale;
import java.util.UUID;
import java.util.regex.Pattern;

/** Identifier rules shared by the records. */
final class Ids {
    private static final Pattern UUID_TEXT =
            Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    private Ids() {
    }

    /** Checks the canonical 8-4-4-4-12 text form (UUID.fromString alone accepts "1-1-1-1-1"). */
    static String uuid(String value, String field) {
        Check.notBlank(value, field);
        if (!UUID_TEXT.matcher(value).matches()) {
            throw new IllegalArgumentException(field + ": '" + Check.printable(value)
                    + "' must be a UUID (8-4-4-4-12 hex digits)");
        }
        return value.toLowerCase(Locale.ROOT);
    }

    static UUID parseUuid(String value, String field) {
        return UUID.fromString(uuid(value, field));
    }
}
