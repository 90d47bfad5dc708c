package org.berth.conformance.runner;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The human report of a run, as Markdown and as one self-contained HTML page: totals and time per driver, the
 * support matrix, each failure with the contract rule it broke and what leaked, and every test with its timing.
 */
final class RunReport {
    private final List<Outcome> outcomes;
    private final SupportMatrix matrix;
    private final Duration wall;

    RunReport(List<Outcome> outcomes, SupportMatrix matrix, Duration wall) {
        this.outcomes = List.copyOf(outcomes);
        this.matrix = matrix;
        this.wall = wall;
    }

    private static String seconds(Duration d) {
        return String.format(Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
    }

    private record Totals(long passed, long failed, long skipped, Duration time) {
        static Totals of(List<Outcome> os) {
            return new Totals(count(os, Outcome.Status.PASSED), count(os, Outcome.Status.FAILED),
                    count(os, Outcome.Status.SKIPPED), os.stream().map(Outcome::duration).reduce(Duration.ZERO, Duration::plus));
        }

        private static long count(List<Outcome> os, Outcome.Status s) {
            return os.stream().filter(o -> o.status() == s).count();
        }
    }

    private Map<String, List<Outcome>> byDriver() {
        return outcomes.stream().collect(Collectors.groupingBy(Outcome::driver, TreeMap::new, Collectors.toList()));
    }

    private List<Outcome> failures() {
        return outcomes.stream().filter(o -> o.status() == Outcome.Status.FAILED).toList();
    }

    /** One line for the console: {@code 40 passed, 2 failed, 3 skipped in 95.2 s}. */
    String summary() {
        Totals t = Totals.of(outcomes);
        return t.passed() + " passed, " + t.failed() + " failed, " + t.skipped() + " skipped in " + seconds(wall);
    }

    String markdown() {
        var md = new StringBuilder("# Berth conformance report\n\n").append(summary()).append(".\n\n");
        md.append("| driver | passed | failed | skipped | time |\n|---|---|---|---|---|\n");
        byDriver().forEach((d, os) -> {
            Totals t = Totals.of(os);
            md.append("| ").append(d).append(" | ").append(t.passed()).append(" | ").append(t.failed()).append(" | ")
                    .append(t.skipped()).append(" | ").append(seconds(t.time())).append(" |\n");
        });
        md.append('\n').append(matrix.markdown().replaceFirst("(?s)^# [^\n]*\n\n[^\n]*\n", "## Support matrix\n"));
        md.append("\n## Failures\n\n");
        if (failures().isEmpty()) {
            md.append("None.\n");
        }
        for (Outcome o : failures()) {
            md.append("### [").append(o.driver()).append("] ").append(o.title()).append("\n\n");
            md.append("- test: `").append(o.method()).append("` (").append(o.feature().title()).append(")\n");
            md.append("- rule broken: ").append(o.rule().map(r -> "**" + r + "**").orElse("(the assertion names none)")).append('\n');
            o.leaks().forEach(l -> md.append("- leaked: `").append(l).append("`\n"));
            md.append("\n```\n").append(o.message().replace("```", "'''")).append("\n```\n\n");
        }
        md.append("\n## Tests\n\n| driver | test | feature | result | time |\n|---|---|---|---|---|\n");
        for (Outcome o : outcomes) {
            md.append("| ").append(o.driver()).append(" | ").append(o.title().replace("|", "\\|")).append(" | ")
                    .append(o.feature().tag()).append(" | ").append(o.status().name().toLowerCase(Locale.ROOT))
                    .append(o.status() == Outcome.Status.SKIPPED && !o.message().isBlank()
                            ? ": " + o.headline().replace("|", "\\|") : "")
                    .append(" | ").append(seconds(o.duration())).append(" |\n");
        }
        return md.toString();
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private static <T> String rows(List<T> items, Function<T, String> row) {
        return items.stream().map(row).collect(Collectors.joining("\n"));
    }

    String html() {
        var h = new StringBuilder("""
                <!DOCTYPE html>
                <html lang="en"><head><meta charset="utf-8"><title>Berth conformance report</title>
                <style>
                body{font-family:system-ui,sans-serif;margin:2em;color:#222}
                table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
                th{background:#f3f3f3}.passed,.complete{background:#e6f6e6}.failed{background:#fbe3e3}
                .skipped,.missing,.not{background:#f6f6e0}pre{background:#f7f7f7;padding:.8em;overflow:auto}
                </style></head><body>
                <h1>Berth conformance report</h1>
                """);
        h.append("<p>").append(esc(summary())).append("</p>\n<table><tr><th>driver</th><th>passed</th><th>failed</th>")
                .append("<th>skipped</th><th>time</th></tr>\n");
        byDriver().forEach((d, os) -> {
            Totals t = Totals.of(os);
            h.append("<tr><td>").append(esc(d)).append("</td><td>").append(t.passed()).append("</td><td>")
                    .append(t.failed()).append("</td><td>").append(t.skipped()).append("</td><td>")
                    .append(seconds(t.time())).append("</td></tr>\n");
        });
        h.append("</table>\n<h2>Support matrix</h2>\n<table><tr><th>feature</th>");
        var drivers = List.copyOf(byDriver().keySet()).stream().filter(d -> !d.equals("?")).toList();
        drivers.forEach(d -> h.append("<th>").append(esc(d)).append("</th>"));
        h.append("</tr>\n");
        for (Feature f : Feature.values()) {
            h.append("<tr><td>").append(esc(f.title())).append("</td>");
            for (String d : drivers) {
                SupportMatrix.Cell c = matrix.cell(d, f);
                h.append("<td class=\"").append(c.text.split(" ")[0]).append("\">").append(esc(c.text)).append("</td>");
            }
            h.append("</tr>\n");
        }
        h.append("</table>\n<h2>Failures</h2>\n").append(failures().isEmpty() ? "<p>None.</p>\n" : "");
        h.append(rows(failures(), o -> "<h3>[" + esc(o.driver()) + "] " + esc(o.title()) + "</h3>\n<ul><li>test: <code>"
                + esc(o.method()) + "</code></li><li>rule broken: <b>" + esc(o.rule().orElse("(the assertion names none)"))
                + "</b></li>" + rows(o.leaks(), l -> "<li>leaked: <code>" + esc(l) + "</code></li>") + "</ul>\n<pre>"
                + esc(o.message()) + "</pre>"));
        h.append("\n<h2>Tests</h2>\n<table><tr><th>driver</th><th>test</th><th>feature</th><th>result</th><th>time</th></tr>\n");
        h.append(rows(outcomes, o -> {
            String status = o.status().name().toLowerCase(Locale.ROOT);
            return "<tr class=\"" + status + "\"><td>" + esc(o.driver()) + "</td><td>" + esc(o.title()) + "</td><td>"
                    + esc(o.feature().tag()) + "</td><td>" + status
                    + (o.status() == Outcome.Status.SKIPPED ? ": " + esc(o.headline()) : "") + "</td><td>"
                    + seconds(o.duration()) + "</td></tr>";
        }));
        return h.append("\n</table>\n</body></html>\n").toString();
    }
}
