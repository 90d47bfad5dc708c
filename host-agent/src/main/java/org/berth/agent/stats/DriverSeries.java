package org.berth.agent.stats;

import java.time.Duration;

/**
 * A driver's last two good samples and how its last attempt went.
 *
 * @param last         the newest good sample
 * @param previous     the one before it (for rates), null until a second sample succeeded
 * @param stale        the last attempt failed or timed out: {@code last} is older than one interval
 * @param lastAttempt  how long the last attempt took (until it failed or timed out when stale)
 */
public record DriverSeries(DriverSample last, DriverSample previous, boolean stale, Duration lastAttempt) {
    public DriverSeries {
        java.util.Objects.requireNonNull(last, "last");
        java.util.Objects.requireNonNull(lastAttempt, "lastAttempt");
    }

    /** How many intervals a stale driver's counters are still exported on /metrics. */
    public static final int STALE_INTERVALS = 3;

    /**
     * Whether /metrics should stop exporting the driver's per-instance series: stale, with figures older than
     * {@link #STALE_INTERVALS} intervals. Re-exporting the same counters through a long outage would make rate()
     * read 0 and the instances look idle to autoscaling and billing; left out, Prometheus marks the series stale
     * (no value) instead.
     */
    public boolean expired(java.time.Instant now, java.time.Duration interval) {
        return stale && last.at().plus(interval.multipliedBy(STALE_INTERVALS)).isBefore(now);
    }

    /** After a good sample: it becomes the last, the last the previous. */
    DriverSeries next(DriverSample sample) {
        return new DriverSeries(sample, last, false, sample.took());
    }

    /** After a failed attempt: the figures stay, marked stale. */
    DriverSeries failed(Duration attempt) {
        return new DriverSeries(last, previous, true, attempt);
    }
}
