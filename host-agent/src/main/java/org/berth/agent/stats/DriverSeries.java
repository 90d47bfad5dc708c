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

    /** After a good sample: it becomes the last, the last the previous. */
    DriverSeries next(DriverSample sample) {
        return new DriverSeries(sample, last, false, sample.took());
    }

    /** After a failed attempt: the figures stay, marked stale. */
    DriverSeries failed(Duration attempt) {
        return new DriverSeries(last, previous, true, attempt);
    }
}
