package org.berth.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;

/** A plain-text table: one header row, left-aligned columns two spaces apart. */
public final class Table {
    private final List<String> headers;
    private final List<List<String>> rows = new ArrayList<>();

    public Table(String... headers) {
        this.headers = List.of(headers);
    }

    /** One column per field, headed by the field's name upper-cased, one row per item. */
    public static Table of(Iterable<JsonNode> items, List<String> fields) {
        Table t = new Table(fields.stream().map(f -> f.toUpperCase(Locale.ROOT)).toArray(String[]::new));
        items.forEach(i -> t.row(fields.stream().map(i::path).toArray()));
        return t;
    }

    /** The array's elements, each as {@code cell} renders it, joined by {@code separator}; "-" when there are none. */
    public static String join(JsonNode array, String separator, Function<JsonNode, String> cell) {
        String s = StreamSupport.stream(array.spliterator(), false).map(cell).collect(Collectors.joining(separator));
        return s.isEmpty() ? "-" : s;
    }

    public Table row(Object... cells) {
        if (cells.length != headers.size()) {
            throw new IllegalArgumentException("row: " + cells.length + " cells for " + headers.size() + " columns");
        }
        List<String> r = new ArrayList<>();
        for (Object c : cells) {
            r.add(text(c));
        }
        rows.add(r);
        return this;
    }

    /** A JSON value as a cell: text as is, null or missing as "-". */
    public static String text(Object v) {
        if (v instanceof JsonNode n) {
            return n.isMissingNode() || n.isNull() ? "-" : n.isValueNode() ? n.asText() : n.toString();
        }
        return v == null ? "-" : v.toString();
    }

    public void print(PrintWriter out) {
        int[] width = new int[headers.size()];
        for (int i = 0; i < width.length; i++) {
            width[i] = headers.get(i).length();
            for (List<String> r : rows) {
                width[i] = Math.max(width[i], r.get(i).length());
            }
        }
        line(out, headers, width);
        rows.forEach(r -> line(out, r, width));
        out.flush();
    }

    private static void line(PrintWriter out, List<String> cells, int[] width) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < cells.size(); i++) {
            b.append(cells.get(i));
            if (i < cells.size() - 1) {
                b.append(" ".repeat(width[i] - cells.get(i).length() + 2));
            }
        }
        out.println(b.toString().stripTrailing());
    }

    /** "key: value" lines for one object's scalar fields (nested objects printed as JSON). */
    public static void fields(PrintWriter out, JsonNode object) {
        int w = 0;
        for (var it = object.fieldNames(); it.hasNext(); ) {
            w = Math.max(w, it.next().length());
        }
        int width = w;
        object.properties().forEach(f -> out.println(f.getKey() + ":" + " ".repeat(width - f.getKey().length() + 1)
                + text(f.getValue())));
        out.flush();
    }
}
