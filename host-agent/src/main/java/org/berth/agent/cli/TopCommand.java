package org.berth.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code berth top}: each instance's CPU %, memory and network and disk rates from the agent's last two samples
 * ({@code GET /v1/instances/stats}), sorted, one frame every {@code --interval} until interrupted. It never makes
 * the agent call a driver: the agent samples on its own schedule ({@code instance_stats_interval}), so a shorter
 * {@code --interval} shows the same sample again.
 */
@Command(name = "top", description = "Per-instance CPU %, memory, network and disk rates, sorted, refreshing until "
        + "interrupted (GET /v1/instances/stats: the agent's last samples).")
final class TopCommand implements Runnable {
    private static final String CLEAR = "\u001b[H\u001b[2J";

    enum Sort { cpu, memory, net, disk }

    @ParentCommand
    BerthCli root;

    @Option(names = "--sort", defaultValue = "cpu", paramLabel = "KEY",
            description = "cpu (default), memory, net (rx + tx) or disk (read + write), largest first")
    Sort sort;

    @Option(names = "--interval", defaultValue = "2s", paramLabel = "DURATION",
            converter = BerthCli.DurationConverter.class,
            description = "time between frames, e.g. 2 (seconds), 500ms, 1m (default: 2s)")
    Duration interval;

    @Option(names = "--once", description = "print one frame and exit (for scripts)")
    boolean once;

    @Override
    public void run() {
        PrintWriter out = root.out();
        while (true) {
            JsonNode answer = root.client().get("/v1/instances/stats");
            if (root.json()) {
                root.print(answer, () -> { });
            } else {
                if (!once) {
                    out.print(CLEAR);
                }
                frame(out, answer.path("stats"), sort);
            }
            out.flush();
            if (once) {
                return;
            }
            try {
                Thread.sleep(interval.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** One frame: a summary line, then the table. */
    static void frame(PrintWriter out, JsonNode stats, Sort sort) {
        List<JsonNode> rows = new ArrayList<>();
        stats.path("instances").forEach(rows::add);
        rows.sort(Comparator.comparingDouble(key(sort)).reversed()
                .thenComparing(i -> i.path("name").asText()).thenComparing(i -> i.path("uuid").asText()));
        List<String> stale = new ArrayList<>();
        stats.path("drivers").forEach(d -> {
            if (d.path("stale").asBoolean()) {
                stale.add(printable(d.path("driver").asText()));
            }
        });
        double every = stats.path("interval_seconds").asDouble();
        out.println("berth top - " + (stats.path("sampled_at").isTextual()
                ? "sampled " + printable(stats.path("sampled_at").asText()) : "no sample yet")
                + (every > 0 ? ", every " + trim(every) + " s" : ", sampling off (instance_stats_interval: 0)")
                + ", " + rows.size() + " instance" + (rows.size() == 1 ? "" : "s") + ", sorted by " + sort
                + (stale.isEmpty() ? "" : "; STALE (driver not answering): " + String.join(", ", stale)));
        Table t = new Table("NAME", "UUID", "DRIVER", "STATE", "CPU%", "MEM", "NET RX/s", "NET TX/s", "DISK R/s",
                "DISK W/s");
        for (JsonNode i : rows) {
            JsonNode r = i.path("rates");
            t.row(i.path("name").asText().isEmpty() ? "-" : printable(i.path("name").asText()),
                    printable(i.path("uuid").asText()), printable(i.path("driver").asText()),
                    printable(i.path("state").asText().toLowerCase(Locale.ROOT))
                            + (i.path("stale").asBoolean() ? " (stale)" : ""),
                    r.path("cpu_percent").isNumber() ? String.format(Locale.ROOT, "%.1f", r.path("cpu_percent")
                            .asDouble()) : "-",
                    memory(i) < 0 ? "-" : bytes(memory(i)),
                    rate(r.path("rx_bytes_per_second")), rate(r.path("tx_bytes_per_second")),
                    rate(r.path("read_bytes_per_second")), rate(r.path("write_bytes_per_second")));
        }
        t.print(out);
    }

    /**
     * The text with every control character (C0, DEL and C1) replaced by '?': a name is the user's, and one with an
     * escape sequence in it must not move the cursor, retitle or clear the operator's terminal.
     */
    static String printable(String text) {
        StringBuilder b = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            if (Character.getType(c) == Character.CONTROL) {
                b.append('?');
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.toString();
    }

    /** The sort key, larger first; an unknown figure sorts last. */
    private static ToDoubleFunction<JsonNode> key(Sort sort) {
        return i -> {
            JsonNode r = i.path("rates");
            return switch (sort) {
                case cpu -> r.path("cpu_percent").asDouble(-1);
                case memory -> memory(i);
                case net -> r.path("rx_bytes_per_second").asDouble(-1) + r.path("tx_bytes_per_second").asDouble(0);
                case disk -> r.path("read_bytes_per_second").asDouble(-1)
                        + r.path("write_bytes_per_second").asDouble(0);
            };
        };
    }

    /** The memory the guest uses, else what the host gives it; -1 when neither is reported. */
    private static double memory(JsonNode i) {
        JsonNode m = i.path("memory");
        return m.path("used_bytes").isNumber() ? m.path("used_bytes").asDouble()
                : m.path("resident_bytes").isNumber() ? m.path("resident_bytes").asDouble() : -1;
    }

    private static String rate(JsonNode v) {
        return v.isNumber() ? bytes(v.asDouble()) : "-";
    }

    /** Bytes in binary units, as top and docker stats print them: 512B, 1.5KiB, 12.0MiB. */
    static String bytes(double b) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        while (b >= 1024 && u < units.length - 1) {
            b /= 1024;
            u++;
        }
        return u == 0 ? Math.round(b) + "B" : String.format(Locale.ROOT, "%.1f%s", b, units[u]);
    }

    private static String trim(double seconds) {
        return seconds == Math.rint(seconds) ? Long.toString((long) seconds) : Double.toString(seconds);
    }
}
