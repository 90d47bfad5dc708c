package org.berth.agent.metrics;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes a whole-number sample value as an integer ({@code 3} rather than the writer's {@code 3.0} or
 * {@code 1.2E9}): the same number to Prometheus, and the form /metrics always had, which operators' scripts and
 * the agent's own tests grep for ({@code berth_console_sessions 0}). Only the value after a sample line's last
 * space changes; comments, names and labels are copied as they are (a label value cannot hold a raw newline: the
 * writer escapes it).
 */
final class IntegralValues {
    /** Above 2^53 a double no longer holds every integer: such values stay as the writer wrote them. */
    private static final double EXACT = 9.007199254740992E15;

    private IntegralValues() {
    }

    static byte[] trim(byte[] text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length);
        int start = 0;
        while (start < text.length) {
            int end = start;
            while (end < text.length && text[end] != '\n') {
                end++;
            }
            line(text, start, end, out);
            if (end < text.length) {
                out.write('\n');
            }
            start = end + 1;
        }
        return out.toByteArray();
    }

    private static void line(byte[] b, int start, int end, ByteArrayOutputStream out) {
        int space = end - 1;
        while (space >= start && b[space] != ' ') {
            space--;
        }
        if (end == start || b[start] == '#' || space < start) {
            out.write(b, start, end - start);
            return;
        }
        int v = space + 1;
        int len = end - v;
        if (len > 2 && b[end - 2] == '.' && b[end - 1] == '0' && digits(b, v, end - 2)) {
            out.write(b, start, end - 2 - start); // "12.0" -> "12"
            return;
        }
        if (indexOf(b, v, end, (byte) 'E') >= 0) {
            String token = new String(b, v, len, StandardCharsets.US_ASCII);
            try {
                double d = Double.parseDouble(token);
                if (d == Math.rint(d) && Math.abs(d) < EXACT) {
                    out.write(b, start, v - start);
                    byte[] whole = Long.toString((long) d).getBytes(StandardCharsets.US_ASCII);
                    out.write(whole, 0, whole.length);
                    return;
                }
            } catch (NumberFormatException e) {
                // not a number: copied as is
            }
        }
        out.write(b, start, end - start);
    }

    private static boolean digits(byte[] b, int from, int to) {
        if (from < to && b[from] == '-') {
            from++;
        }
        if (from >= to) {
            return false;
        }
        for (int i = from; i < to; i++) {
            if (b[i] < '0' || b[i] > '9') {
                return false;
            }
        }
        return true;
    }

    private static int indexOf(byte[] b, int from, int to, byte c) {
        for (int i = from; i < to; i++) {
            if (b[i] == c) {
                return i;
            }
        }
        return -1;
    }
}
