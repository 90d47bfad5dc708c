package org.berth.ovs.link;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Deletes host links in the background. Deleting a tap or a veth costs the kernel about 20 ms (it waits for RCU
 * grace periods), and the caller of an unplug need not wait for that once the OVS port is gone. One worker thread
 * takes every queued name at once and deletes them with one {@code ip -force -batch -} process per
 * {@value #PER_PROCESS} names.
 *
 * <p>A queued name stays reserved until its link is gone: {@link #awaitGone} lets a plug of the same device wait.
 * Bounded: at most {@value #MAX_PENDING} names wait; past that {@link #delete} deletes in the caller's thread
 * (back-pressure instead of growth). {@link #close} waits, bounded, until the queue is empty. A link that cannot be
 * deleted is logged with iproute2's reason and released (a later plug finds and reuses or replaces it).
 */
public final class LinkReaper implements AutoCloseable {
    static final int MAX_PENDING = 1024;
    static final int PER_PROCESS = 32;
    private static final Logger LOG = Logger.getLogger(LinkReaper.class.getName());

    private final Links links;
    private final Commands commands;
    /** Queued or being deleted; guarded by {@code this}. */
    private final Set<String> pending = new LinkedHashSet<>();
    private final Thread worker;
    private boolean closed;

    public LinkReaper(Commands commands) {
        this.commands = commands;
        this.links = new Links(commands);
        this.worker = Thread.ofPlatform().name("berth-link-reaper").daemon().unstarted(this::work);
        worker.start();
    }

    /**
     * Queues host link {@code dev} (for a veth, both ends) for deletion and returns. Nothing is queued for a link
     * that is not there. Deleted at once, in this thread, when the queue is full or the reaper is closed.
     */
    public void delete(String dev) {
        if (!links.exists(dev)) {
            return;
        }
        synchronized (this) {
            if (!closed && (pending.contains(dev) || pending.size() < MAX_PENDING)) {
                pending.add(dev);
                notifyAll();
                return;
            }
        }
        links.delete(dev);
    }

    /**
     * Waits until {@code dev} is no longer queued or being deleted; returns at once for a name that is not.
     *
     * @return false if it was still pending after {@code timeout}
     */
    public boolean awaitGone(String dev, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (this) {
            while (pending.contains(dev)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                if (!waitNanos(left)) {
                    return !pending.contains(dev);
                }
            }
            return true;
        }
    }

    /** Names queued or being deleted now (for diagnostics and tests). */
    public synchronized List<String> pending() {
        return List.copyOf(pending);
    }

    /**
     * Waits until every queued link is gone.
     *
     * @return false if some were still pending after {@code timeout}
     */
    public boolean drain(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (this) {
            while (!pending.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !waitNanos(left)) {
                    return pending.isEmpty();
                }
            }
            return true;
        }
    }

    /**
     * Deletes what is queued (waiting up to {@code timeout}), then stops the worker. Later {@link #delete} calls
     * delete in the caller's thread. Idempotent.
     */
    public void close(Duration timeout) {
        boolean drained = drain(timeout);
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        if (!drained) {
            LOG.warning(() -> "link reaper closed with links still being deleted: " + pending());
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }

    /** Waits on this monitor; false if interrupted (the interrupt is kept). Caller holds the monitor. */
    private boolean waitNanos(long nanos) {
        try {
            wait(Math.max(1, nanos / 1_000_000), 0);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void work() {
        while (true) {
            List<String> batch;
            synchronized (this) {
                while (pending.isEmpty() && !closed) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (pending.isEmpty()) {
                    return; // closed and nothing left
                }
                batch = pending.stream().limit(PER_PROCESS).toList();
            }
            try {
                deleteNow(batch);
            } finally {
                synchronized (this) {
                    batch.forEach(pending::remove);
                    notifyAll();
                }
            }
        }
    }

    /** One {@code ip -force -batch -} for the batch (it goes on past a failing line); logs what is still there. */
    private void deleteNow(List<String> batch) {
        List<String> lines = new ArrayList<>();
        for (String dev : batch) {
            if (links.exists(dev)) {
                lines.add("link del dev " + dev);
            }
        }
        if (lines.isEmpty()) {
            return;
        }
        String why;
        try {
            // Every name was validated as a device name when it was plugged: no quoting needed.
            why = commands.tryRun(List.of("ip", "-force", "-batch", "-"), String.join("\n", lines) + "\n")
                    .stderr().strip();
        } catch (RuntimeException e) {
            why = e.getMessage();
        }
        List<String> left = batch.stream().filter(links::exists).toList();
        if (!left.isEmpty()) {
            String reason = why;
            LOG.log(Level.WARNING, () -> "could not delete host links " + left + ": " + reason);
        }
    }
}
