package org.berth.agent.stats;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.berth.agent.driver.Drivers;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.Store;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceStats;

/**
 * Samples every connected driver that has {@link Capability#INSTANCE_STATS} every {@code instance_stats_interval}
 * on its own thread, so no API request ever waits for a backend's counters: /metrics, {@code GET
 * /v1/instances/stats} and diagnostics read {@link #current()}, an immutable snapshot. A driver whose call fails
 * or does not answer within {@link #callTimeout()} keeps its previous figures, marked stale; that is logged once
 * when the outage begins and once when it ends, not at every tick.
 */
public final class StatsSampler implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(StatsSampler.class.getName());
    /** Bound of one stats() call when sampling is off (a diagnostics request's own call). */
    static final Duration OFF_CALL_TIMEOUT = Duration.ofSeconds(10);

    private final Duration interval;
    private final Drivers drivers;
    private final Store store;
    private final ScheduledExecutorService thread;
    private final Duration offCallTimeout;
    /** Runs the driver calls, one thread per driver, so that one that hangs can be given up on. */
    private final DriverCalls calls = new DriverCalls();
    private volatile StatsSnapshot current = StatsSnapshot.EMPTY;
    private volatile Runnable onSample = () -> { };
    // sampler thread only:
    private final Map<String, String> outages = new HashMap<>();

    public StatsSampler(Duration interval, Drivers drivers, Store store) {
        this(interval, OFF_CALL_TIMEOUT, drivers, store);
    }

    /** With another bound of a request's own call when sampling is off (tests, to hang a call briefly). */
    StatsSampler(Duration interval, Duration offCallTimeout, Drivers drivers, Store store) {
        this.interval = interval;
        this.offCallTimeout = offCallTimeout;
        this.drivers = drivers;
        this.store = store;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "berth-stats"));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Schedules the periodic sample (the first one now); nothing when {@code instance_stats_interval} is 0. */
    public void start() {
        if (!interval.isZero()) {
            thread.scheduleWithFixedDelay(this::sampleSafely, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    public boolean enabled() {
        return !interval.isZero();
    }

    public Duration interval() {
        return interval;
    }

    /** The last sample and the one before; never null, {@link StatsSnapshot#EMPTY} before the first. */
    public StatsSnapshot current() {
        return current;
    }

    /**
     * How long a driver's stats() may take: one interval (a sample later than that is useless for the next one),
     * at least 1 s and at most 30 s; {@link #OFF_CALL_TIMEOUT} when sampling is off.
     */
    public Duration callTimeout() {
        if (interval.isZero()) {
            return offCallTimeout;
        }
        Duration d = interval.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : interval;
        return d.compareTo(Duration.ofSeconds(30)) > 0 ? Duration.ofSeconds(30) : d;
    }

    /**
     * Runs {@code listener} on the sampler thread after each sampling round, e.g. to write /metrics' per-instance
     * text there rather than on the next scrape's request path.
     */
    public void onSample(Runnable listener) {
        this.onSample = listener;
    }

    /** Runs one sampling round on the sampler thread and waits for it (tests, and nothing else). */
    public void sampleNow(Duration timeout) {
        try {
            thread.submit(this::sampleSafely).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("stats sample did not finish within " + timeout.toMillis() + " ms", e);
        }
    }

    private void sampleSafely() {
        try {
            sample();
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "instance stats sample failed; next one in " + interval, e);
        }
    }

    private void sample() {
        Map<UUID, String> names = new HashMap<>();
        boolean namesRead = false;
        StatsSnapshot before = current;
        Map<String, DriverSeries> next = new LinkedHashMap<>();
        for (String name : drivers.names()) {
            ComputeDriver d = drivers.find(name).orElse(null);
            DriverSeries had = before.drivers().get(name);
            if (d != null && !d.describe().has(Capability.INSTANCE_STATS)) {
                continue;
            }
            long t0 = System.nanoTime();
            List<InstanceStats> got = null;
            String failure;
            if (d == null) {
                failure = "the driver is not connected";
            } else {
                // a call still hanging from an earlier round is waited for again, not started a second time
                Future<List<InstanceStats>> f = calls.call(name, d).future();
                failure = null;
                try {
                    got = f.get(callTimeout().toMillis(), TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    // the call stays in flight; the next round waits for it instead of starting another
                    failure = "stats() did not answer within " + callTimeout().toMillis() + " ms";
                } catch (ExecutionException e) {
                    failure = "stats() failed: " + e.getCause();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            if (failure != null) {
                if (outages.putIfAbsent(name, failure) == null) {
                    LOG.log(Level.WARNING, "instance stats of driver " + name + ": " + failure + "; its last figures "
                            + "are served, marked stale, until it answers again");
                }
                if (had != null) {
                    next.put(name, had.failed(took));
                }
                continue;
            }
            if (outages.remove(name) != null) {
                LOG.log(Level.INFO, "instance stats of driver " + name + ": answering again");
            }
            if (!namesRead) {
                store.listAll().forEach(r -> names.put(r.uuid(), r.name()));
                namesRead = true;
            }
            DriverSample s = sampleOf(name, got, names, took);
            next.put(name, had == null ? new DriverSeries(s, null, false, took) : had.next(s));
        }
        current = new StatsSnapshot(Instant.now(), next);
        onSample.run();
    }

    private static DriverSample sampleOf(String driver, List<InstanceStats> got, Map<UUID, String> names,
                                         Duration took) {
        Map<UUID, InstanceSample> m = new LinkedHashMap<>();
        got.forEach(s -> m.put(s.uuid(), new InstanceSample(names.get(s.uuid()), s)));
        return new DriverSample(driver, Instant.now(), took, m);
    }

    /**
     * A stats() of the instance's driver for a diagnostics request while sampling is off (with sampling on a request
     * never calls a driver). At most one call per driver is in flight: a request that finds one joins it and gets its
     * result; each waits until {@link #callTimeout()} after that call began. Empty when the driver does not report
     * the instance.
     *
     * @throws DriverException.CapabilityMissing  if the driver has no {@link Capability#INSTANCE_STATS}
     * @throws DriverException.OperationTimedOut if the call does not answer in time
     * @throws DriverException.BackendUnavailable if the driver's call has hung past its bound already (it cannot be
     *                                            interrupted, so no second one is started beside it)
     */
    public Optional<InstanceSample> fresh(InstanceRecord record) {
        ComputeDriver d = drivers.require(record.driver());
        if (!d.describe().has(Capability.INSTANCE_STATS)) {
            throw new DriverException.CapabilityMissing(record.driver(), Capability.INSTANCE_STATS);
        }
        long bound = callTimeout().toNanos();
        DriverCalls.Call hung = calls.running(record.driver());
        if (hung != null && hung.ageNanos() >= bound) {
            throw new DriverException.BackendUnavailable("driver " + record.driver(), "its stats() call has not "
                    + "answered for " + hung.ageNanos() / 1_000_000 + " ms (bound " + bound / 1_000_000
                    + " ms); no other is started until it does", null);
        }
        DriverCalls.Call c = calls.call(record.driver(), d);
        try {
            return c.future().get(Math.max(0, bound - c.ageNanos()), TimeUnit.NANOSECONDS).stream()
                    .filter(s -> s.uuid().equals(record.uuid())).findFirst()
                    .map(s -> new InstanceSample(record.name(), s));
        } catch (TimeoutException e) {
            // not cancelled: that would not free a thread stuck in the backend's client
            throw new DriverException.OperationTimedOut("stats", callTimeout(), "driver " + record.driver());
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException.OperationTimedOut("stats", callTimeout(), "interrupted");
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
        calls.close();
        try {
            thread.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
