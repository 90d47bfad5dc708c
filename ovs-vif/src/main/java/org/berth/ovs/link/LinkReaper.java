package org.berth.ovs.link;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Deletes host links in the background. Deleting a tap or a veth costs the kernel about 20 ms (it waits for RCU
 * grace periods), and the caller of an unplug need not wait for that once the OVS port is gone. One worker thread
 * takes every queued name at once and deletes them with one {@code ip -force -batch -} process per
 * {@value #PER_PROCESS} names.
 *
 * <p>A queued name stays reserved until its link is gone or taken back: {@link #reclaim} lets a plug of the same
 * device take a link the worker has not started on (it is reused, no delete and re-create), or wait for the batch
 * that is deleting it.
 * Bounded: at most {@value #MAX_PENDING} names wait; past that {@link #delete} deletes in the caller's thread
 * (back-pressure instead of growth). {@link #close} waits, bounded, until the queue is empty. A link that cannot be
 * deleted is logged with iproute2's reason and released (a later plug finds and reuses or replaces it). The link's
 * ifindex is noted when it is queued: a link of that name made since by someone else is left alone.
 *
 * <p>With a journal, every queued name is also noted in this reaper's own directory under it
 * ({@code <pid>-<process start time>-<n>/<link>}, the ifindex inside) until the link is gone or taken back. A process killed
 * before its worker got to a link leaves its directory; the next reaper on the host takes over the notes of every
 * directory whose process is gone (never a live one's) and queues the links whose ifindex still matches, so a crash
 * leaks no tap. Taken over, a link can still be taken back by a plug ({@link #reclaim}) before it is deleted. The
 * journal lives under {@code /run}: a host reboot clears it with the links.
 */
public final class LinkReaper implements AutoCloseable {
    static final int MAX_PENDING = 1024;
    static final int PER_PROCESS = 32;
    /** Numbers the reapers of this process: each has its own journal directory. */
    private static final java.util.concurrent.atomic.AtomicInteger INSTANCES = new java.util.concurrent.atomic.AtomicInteger();
    private static final Logger LOG = Logger.getLogger(LinkReaper.class.getName());

    private final Links links;
    private final Commands commands;
    /** Name to ifindex of each link queued or being deleted; guarded by {@code this}. */
    private final Map<String, Long> pending = new LinkedHashMap<>();
    /** The names of {@link #pending} the worker is deleting now; guarded by {@code this}. */
    private final Set<String> inFlight = new HashSet<>();
    private final Thread worker;
    /** This process's directory in the journal, where queued names are noted until their link is gone; or null. */
    private final Path journal;
    private boolean closed;

    /** A reaper without a journal (what it has queued is lost if the process dies). */
    public LinkReaper(Commands commands) {
        this(commands, null, true);
    }

    /** A reaper noting queued names under {@code journal}, after taking over the notes of dead processes there. */
    public LinkReaper(Commands commands, Path journal) {
        this(commands, journal, true);
    }

    LinkReaper(Commands commands, boolean start) {
        this(commands, null, start);
    }

    /** With {@code start} false the worker waits for {@link #start()} (tests order the steps this way). */
    LinkReaper(Commands commands, Path journal, boolean start) {
        this.commands = commands;
        this.links = new Links(commands);
        this.journal = journal == null ? null : openJournal(journal.resolve(processKey(ProcessHandle.current())
                + "-" + INSTANCES.incrementAndGet()));
        this.worker = Thread.ofPlatform().name("berth-link-reaper").daemon().unstarted(this::work);
        if (this.journal != null) {
            recover(journal);
        }
        if (start) {
            worker.start();
        }
    }

    private static Path openJournal(Path dir) {
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            LOG.warning(() -> "link reaper: no journal at " + dir + " (" + e.getMessage()
                    + "); links queued when the process dies are not deleted later");
            return null;
        }
    }

    /** A process's directory name: pid and start time, so a reused pid is not taken for the dead process. */
    static String processKey(ProcessHandle process) {
        return process.pid() + "-" + process.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
    }

    /** Whether the process a journal directory is named after still runs (unreadable names count as alive). */
    private static boolean alive(String key) {
        String[] parts = key.split("-");
        try {
            long pid = Long.parseLong(parts[0]);
            long start = Long.parseLong(parts[1]);
            return ProcessHandle.of(pid).map(p -> start == 0 || p.info().startInstant().isEmpty()
                    || p.info().startInstant().get().toEpochMilli() == start).orElse(false);
        } catch (RuntimeException e) {
            return true; // not ours to judge: leave it
        }
    }

    /** Takes over the notes of dead processes: links still as noted are queued (and noted here), the rest dropped. */
    private void recover(Path root) {
        try (var dirs = Files.list(root)) {
            for (Path dir : dirs.toList()) {
                String key = dir.getFileName().toString();
                if (dir.equals(journal) || !Files.isDirectory(dir) || alive(key)) {
                    continue;
                }
                try (var notes = Files.list(dir)) {
                    for (Path note : notes.toList()) {
                        String dev = note.getFileName().toString();
                        try {
                            long noted = Long.parseLong(Files.readString(note).strip());
                            if (noted > 0 && ifindex(dev) == noted && !pending.containsKey(dev)) {
                                pending.put(dev, noted);
                                note(dev, noted);
                                LOG.info(() -> "link reaper: deleting " + dev + ", left queued by process " + key);
                            }
                        } catch (IOException | NumberFormatException e) {
                            // unreadable note: nothing to act on
                        }
                        Files.deleteIfExists(note);
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException e) {
                    // another reaper is taking it over at the same time, or it went: either way not ours now
                }
            }
        } catch (IOException e) {
            LOG.warning(() -> "link reaper: cannot read journal " + root + ": " + e.getMessage());
        }
    }

    /** This process's journal directory (tests). */
    Path journalDir() {
        return journal;
    }

    private void note(String dev, long index) {
        if (journal != null && !dev.contains("/") && !dev.startsWith(".")) {
            try {
                Files.writeString(journal.resolve(dev), Long.toString(index));
            } catch (IOException e) {
                LOG.warning(() -> "link reaper: cannot note " + dev + " in " + journal + ": " + e.getMessage());
            }
        }
    }

    private void forget(String dev) {
        if (journal != null) {
            try {
                Files.deleteIfExists(journal.resolve(dev));
            } catch (IOException e) {
                LOG.warning(() -> "link reaper: cannot remove the note of " + dev + ": " + e.getMessage());
            }
        }
    }

    void start() {
        worker.start();
    }

    /** Tests: queues a name that no link has (the worker skips it), to fill the queue without real links. */
    synchronized void queueForTest(String name) {
        pending.put(name, -2L);
    }

    /**
     * Queues host link {@code dev} (for a veth, both ends) for deletion and returns. Nothing is queued for a link
     * that is not there. Deleted at once, in this thread, when the queue is full or the reaper is closed.
     */
    public void delete(String dev) {
        long index = ifindex(dev);
        if (index < 0) {
            return;
        }
        synchronized (this) {
            boolean workerGone = worker.getState() == Thread.State.TERMINATED;
            if (!closed && !workerGone && (pending.containsKey(dev) || pending.size() < MAX_PENDING)) {
                pending.put(dev, index);
                note(dev, index);
                notifyAll();
                return;
            }
        }
        links.delete(dev);
    }

    /**
     * Frees the name {@code dev} for a new plug: a link still waiting in the queue is taken out of it (it stays on
     * the host for the caller to reuse or replace); a link the worker is deleting now is waited for. Returns at once
     * for a name that is not pending.
     *
     * @return false if the worker was still deleting it after {@code timeout}
     */
    public boolean reclaim(String dev, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (this) {
            if (pending.containsKey(dev) && !inFlight.contains(dev)) {
                pending.remove(dev);
                forget(dev);
                notifyAll();
                return true;
            }
            while (pending.containsKey(dev)) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !waitNanos(left)) {
                    return !pending.containsKey(dev);
                }
            }
            return true;
        }
    }

    /** Names queued or being deleted now (for diagnostics and tests). */
    public synchronized List<String> pending() {
        return List.copyOf(pending.keySet());
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
        } else if (journal != null) {
            try {
                Files.deleteIfExists(journal);
            } catch (IOException e) {
                // notes left (a link that could not be deleted): the next reaper on the host takes them over
            }
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

    /** The worker: private, so an interrupt is no stop signal (only {@link #close} is); no batch failure ends it. */
    private void work() {
        while (true) {
            Map<String, Long> batch;
            synchronized (this) {
                while (pending.isEmpty() && !closed) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        // not ours to stop on: close() sets closed
                    }
                }
                if (pending.isEmpty()) {
                    return; // closed and nothing left
                }
                batch = new LinkedHashMap<>();
                for (Map.Entry<String, Long> e : pending.entrySet()) {
                    if (batch.size() == PER_PROCESS) {
                        break;
                    }
                    batch.put(e.getKey(), e.getValue());
                }
                inFlight.addAll(batch.keySet());
            }
            try {
                deleteNow(batch);
            } catch (Throwable e) {
                LOG.log(Level.WARNING, "deleting host links " + batch.keySet() + " failed", e);
            } finally {
                synchronized (this) {
                    batch.forEach((dev, index) -> {
                        if (pending.remove(dev, index)) { // not if queued again since with a new ifindex
                            forget(dev);
                        }
                    });
                    inFlight.clear();
                    notifyAll();
                }
            }
        }
    }

    /**
     * One {@code ip -force -batch -} for the links of the batch still there as queued (same ifindex); it goes on
     * past a failing line. Logs what is still there afterwards.
     */
    private void deleteNow(Map<String, Long> batch) {
        List<String> lines = new ArrayList<>();
        List<String> devs = new ArrayList<>();
        batch.forEach((dev, index) -> {
            if (ifindex(dev) == index) {
                lines.add("link del dev " + dev);
                devs.add(dev);
            }
        });
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
        List<String> left = devs.stream().filter(dev -> ifindex(dev) == batch.get(dev)).toList();
        if (!left.isEmpty()) {
            String reason = why;
            LOG.log(Level.WARNING, () -> "could not delete host links " + left + ": " + reason);
        }
    }

    /** The host link's ifindex from sysfs, or -1 if there is no such link. */
    private static long ifindex(String dev) {
        try {
            return Long.parseLong(Files.readString(Path.of("/sys/class/net", dev, "ifindex")).strip());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }
}
