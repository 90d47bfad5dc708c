package org.berth.agent.stats;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.InstanceStats;

/**
 * The {@code stats()} calls to the drivers: at most one in flight per driver, each driver's on its own single
 * thread, so the threads are bounded by the number of drivers. A call stuck in libvirt or the Docker engine cannot
 * be interrupted (cancel(true) does not free its thread), so it is not started again while it hangs: whoever asks
 * meanwhile gets that same call to wait for.
 */
final class DriverCalls implements AutoCloseable {
    /** A call and when it began ({@link System#nanoTime()}), so a caller can tell one that hangs. */
    record Call(CompletableFuture<List<InstanceStats>> future, long startedNanos) {
        long ageNanos() {
            return System.nanoTime() - startedNanos;
        }
    }

    private final Map<String, ExecutorService> threads = new ConcurrentHashMap<>();
    private final Map<String, Call> inFlight = new ConcurrentHashMap<>();

    /** The driver's call in flight, or a new one when none is. */
    synchronized Call call(String name, ComputeDriver driver) {
        Call c = inFlight.get(name);
        if (c != null && !c.future().isDone()) {
            return c;
        }
        ExecutorService thread = threads.computeIfAbsent(name, n -> Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "berth-stats-call-" + n);
            t.setDaemon(true);
            return t;
        }));
        c = new Call(CompletableFuture.supplyAsync(driver::stats, thread), System.nanoTime());
        inFlight.put(name, c);
        return c;
    }

    /** The driver's call still running, null when none is. */
    Call running(String name) {
        Call c = inFlight.get(name);
        return c == null || c.future().isDone() ? null : c;
    }

    @Override
    public void close() {
        threads.values().forEach(ExecutorService::shutdownNow);
        try {
            for (ExecutorService e : threads.values()) {
                e.awaitTermination(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
