package org.berth.agent.metrics;

import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Collects the data points of a scrape family by family, then builds the client's snapshots. A collector reads the
 * current values at scrape time and adds them here; a family with no data point is left out (as the client would).
 * A label set seen twice in one family keeps its first value: the client refuses duplicates, and a scrape must not
 * fail because a backend reported one device twice.
 */
public final class Families {
    private enum Type { GAUGE, COUNTER, SUMMARY }

    private record Point(Labels labels, double value, long count) {
    }

    private static final class Family {
        final Type type;
        final String help;
        final List<Point> points = new ArrayList<>();
        final Set<Labels> seen = new HashSet<>();

        Family(Type type, String help) {
            this.type = type;
            this.help = help;
        }
    }

    private final Map<String, Family> families = new LinkedHashMap<>();

    /** Declares a family (so that its HELP and TYPE come first), without a data point yet. */
    private Family family(String name, Type type, String help) {
        Family f = families.computeIfAbsent(name, n -> new Family(type, help));
        if (f.type != type) {
            throw new IllegalArgumentException(name + ": declared as " + f.type + ", used as " + type);
        }
        return f;
    }

    private void add(String name, Type type, String help, Labels labels, double value, long count) {
        Family f = family(name, type, help);
        if (f.seen.add(labels)) {
            f.points.add(new Point(labels, value, count));
        }
    }

    public Families gauge(String name, String help, Labels labels, double value) {
        add(name, Type.GAUGE, help, labels, value, 0);
        return this;
    }

    /** @param name without {@code _total}: the writer appends it, as the client's counters do */
    public Families counter(String name, String help, Labels labels, double value) {
        add(name, Type.COUNTER, help, labels, value, 0);
        return this;
    }

    /** A summary without quantiles: its {@code _count} and {@code _sum}. */
    public Families summary(String name, String help, Labels labels, long count, double sum) {
        add(name, Type.SUMMARY, help, labels, sum, count);
        return this;
    }

    public MetricSnapshots build() {
        List<MetricSnapshot> out = new ArrayList<>();
        families.forEach((name, f) -> {
            if (f.points.isEmpty()) {
                return;
            }
            out.add(switch (f.type) {
                case GAUGE -> {
                    GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name).help(f.help);
                    f.points.forEach(p -> b.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                            .labels(p.labels()).value(p.value()).build()));
                    yield b.build();
                }
                case COUNTER -> {
                    CounterSnapshot.Builder b = CounterSnapshot.builder().name(name).help(f.help);
                    f.points.forEach(p -> b.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
                            .labels(p.labels()).value(p.value()).build()));
                    yield b.build();
                }
                case SUMMARY -> {
                    SummarySnapshot.Builder b = SummarySnapshot.builder().name(name).help(f.help);
                    f.points.forEach(p -> b.dataPoint(SummarySnapshot.SummaryDataPointSnapshot.builder()
                            .labels(p.labels()).count(p.count()).sum(p.value()).build()));
                    yield b.build();
                }
            });
        });
        return new MetricSnapshots(out);
    }
}
