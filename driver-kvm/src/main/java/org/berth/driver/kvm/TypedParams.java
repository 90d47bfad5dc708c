package org.berth.driver.kvm;

import com.sun.jna.Pointer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A libvirt {@code virTypedParameter} array copied into Java: {@code field} (name) to value. The C layout (x86-64,
 * libvirt-common.h): {@code char field[80]; int type;} then the 8-byte union {@code value}, aligned to 8, so each
 * entry is 96 bytes. Integers of every width become {@code Long}: an UINT is widened unsigned, an ULLONG keeps its
 * 64 bits, so one of 2^63 or more reads negative ({@link #figure} makes it UNKNOWN); doubles {@code Double}, booleans
 * {@code Boolean}, strings {@code String}.
 */
record TypedParams(Map<String, Object> values) {
    /** VIR_TYPED_PARAM_FIELD_LENGTH. */
    static final int FIELD_LENGTH = 80;
    static final int TYPE_OFFSET = FIELD_LENGTH;
    static final int VALUE_OFFSET = 88;
    static final int SIZE = 96;
    /** virTypedParameterType. */
    static final int INT = 1;
    static final int UINT = 2;
    static final int LLONG = 3;
    static final int ULLONG = 4;
    static final int DOUBLE = 5;
    static final int BOOLEAN = 6;
    static final int STRING = 7;

    TypedParams {
        values = Map.copyOf(values);
    }

    /** Copies {@code count} parameters starting at {@code params}; an entry of an unknown type is skipped. */
    static TypedParams read(Pointer params, int count) {
        Map<String, Object> values = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            long at = (long) i * SIZE;
            String field = field(params.getByteArray(at, FIELD_LENGTH));
            Object value = switch (params.getInt(at + TYPE_OFFSET)) {
                case INT -> (long) params.getInt(at + VALUE_OFFSET);
                case UINT -> Integer.toUnsignedLong(params.getInt(at + VALUE_OFFSET));
                case LLONG, ULLONG -> params.getLong(at + VALUE_OFFSET);
                case DOUBLE -> params.getDouble(at + VALUE_OFFSET);
                case BOOLEAN -> params.getByte(at + VALUE_OFFSET) != 0;
                case STRING -> {
                    Pointer s = params.getPointer(at + VALUE_OFFSET);
                    yield s == null ? null : s.getString(0, StandardCharsets.UTF_8.name());
                }
                default -> null; // a type newer than this code: not one of the figures read here
            };
            if (!field.isEmpty() && value != null) {
                values.put(field, value);
            }
        }
        return new TypedParams(values);
    }

    /** The NUL-terminated name in the fixed 80-byte field. */
    private static String field(byte[] raw) {
        int end = 0;
        while (end < raw.length && raw[end] != 0) {
            end++;
        }
        return new String(raw, 0, end, StandardCharsets.UTF_8);
    }

    /** The integer {@code key}, or {@link org.berth.driver.api.InstanceStats#UNKNOWN} when absent or not one. */
    long number(String key) {
        return values.get(key) instanceof Long l ? l : org.berth.driver.api.InstanceStats.UNKNOWN;
    }

    /**
     * The integer {@code key} as a figure of {@link org.berth.driver.api.InstanceStats}: a non-negative long, or
     * UNKNOWN when absent, not an integer, or negative (an ULLONG of 2^63 or more, a negative INT or LLONG: no
     * figure libvirt reports here is meaningfully negative).
     */
    long figure(String key) {
        long n = number(key);
        return n >= 0 ? n : org.berth.driver.api.InstanceStats.UNKNOWN;
    }

    Optional<String> string(String key) {
        return values.get(key) instanceof String s ? Optional.of(s) : Optional.empty();
    }

    boolean has(String key) {
        return values.containsKey(key);
    }
}
