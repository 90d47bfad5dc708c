package org.berth.agent.stats;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Everything the sampler knows at one moment, never mutated: readers (/metrics, diagnostics, berth top) take one
 * snapshot and see one consistent picture while the sampler builds the next.
 *
 * @param sampledAt when the last sampling round ended, null before the first
 * @param drivers   by driver name, only drivers that ever answered {@code stats()}
 */
public record StatsSnapshot(Instant sampledAt, Map<String, DriverSeries> drivers) {
    public static final StatsSnapshot EMPTY = new StatsSnapshot(null, Map.of());

    public StatsSnapshot {
        drivers = Collections.unmodifiableMap(new LinkedHashMap<>(drivers));
    }

    /** An instance's entry in the last sample of its driver, with the one before for rates. */
    public record Found(String driver, DriverSeries series, InstanceSample last, InstanceSample previous) {
        /** Rates between the previous and the last sample, empty without a previous one. */
        public Optional<Rates> rates() {
            if (previous == null) {
                return Optional.empty();
            }
            return Optional.of(Rates.between(previous.stats(), series.previous().at(), last.stats(), series.last().at()));
        }
    }

    public Optional<Found> find(UUID uuid) {
        for (var e : drivers.entrySet()) {
            DriverSeries s = e.getValue();
            InstanceSample last = s.last().instances().get(uuid);
            if (last != null) {
                InstanceSample prev = s.previous() == null ? null : s.previous().instances().get(uuid);
                return Optional.of(new Found(e.getKey(), s, last, prev));
            }
        }
        return Optional.empty();
    }

    /** Every instance of every driver's last sample, drivers in order. */
    public java.util.List<Found> all() {
        java.util.List<Found> out = new java.util.ArrayList<>();
        drivers.forEach((name, s) -> s.last().instances().forEach((uuid, last) -> out.add(new Found(name, s, last,
                s.previous() == null ? null : s.previous().instances().get(uuid)))));
        return out;
    }
}
