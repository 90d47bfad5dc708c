package org.berth.agent.reconcile;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.berth.agent.capacity.CapacityService;
import org.berth.agent.config.AgentConfig;
import org.berth.agent.config.RunningDeletedAction;
import org.berth.agent.driver.Drivers;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.SpecJson;
import org.berth.agent.store.Store;
import org.berth.agent.store.VmState;
import org.berth.agent.task.TaskLocks;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.PowerState;

/**
 * Makes the store agree with the backends (the backends are the truth), at start and every
 * {@code sync_power_state_interval}, on its own thread so it never blocks request handling. Instances with a task
 * running are skipped until the next sweep. A driver that is unavailable is skipped: its records are not marked.
 */
public final class Reconciler implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Reconciler.class.getName());
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    static final String VANISHED = "vanished from the backend";

    private final AgentConfig config;
    private final Store store;
    private final Drivers drivers;
    private final TaskLocks locks;
    private final CapacityService capacity;
    private final Runnable beforeSweep;
    private final ScheduledExecutorService thread;
    /** Drivers whose first sweep (with the after-restart rules) has run. */
    private final Set<String> started = ConcurrentHashMap.newKeySet();
    private final AtomicLong sweeps = new AtomicLong();
    private volatile InterruptedTask interrupted = (d, r, i) -> false;
    /** The evacuated-while-away rule (null without Placement); see {@link ReturningHost}. */
    private volatile ReturningHost returning;
    private final java.util.concurrent.atomic.AtomicBoolean retryQueued = new java.util.concurrent.atomic.AtomicBoolean();

    /** Finishes or rolls back a task an agent restart cut off; false when it is not one it knows. */
    @FunctionalInterface
    public interface InterruptedTask {
        boolean finish(ComputeDriver driver, InstanceRecord record, InstanceInfo info);
    }

    /** The move tasks (migrate_out, confirm, revert, rebuild) are the task service's to finish. */
    public void onInterruptedTask(InterruptedTask handler) {
        this.interrupted = handler;
    }

    /**
     * Before its first sweep: instances Placement shows rebuilt elsewhere (evacuated) are destroyed, not started.
     * Called before the Placement report starts: the instances to check are taken from the store now.
     */
    public void expectEvacuatedCheck() {
        this.returning = new ReturningHost(store);
    }

    /** The check itself, once the Placement client exists; {@code onSettled} hears each instance the check cleared. */
    public void onStartCheckEvacuated(EvacuatedCheck check, java.util.function.Consumer<UUID> onSettled) {
        if (returning == null) {
            expectEvacuatedCheck();
        }
        returning.check(check, onSettled);
    }

    /**
     * True while the instance waits for the evacuated check: the Placement report must then neither write nor
     * remove its consumers (a migration's source cut off before its marker, whose consumer holds only the
     * destination, must not get this host's part back, which would make it look evacuated).
     */
    public boolean settling(UUID uuid) {
        ReturningHost back = returning;
        return back != null && back.pending(uuid);
    }

    public Reconciler(AgentConfig config, Store store, Drivers drivers, TaskLocks locks, CapacityService capacity,
                      Runnable beforeSweep) {
        this.config = config;
        this.store = store;
        this.drivers = drivers;
        this.locks = locks;
        this.capacity = capacity;
        this.beforeSweep = beforeSweep;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "berth-reconcile");
            t.setDaemon(true);
            return t;
        });
    }

    /** Schedules the periodic sweep; the first one runs now. */
    public void start() {
        long ms = config.syncPowerStateInterval().toMillis();
        thread.scheduleWithFixedDelay(this::sweepSafely, 0, ms, TimeUnit.MILLISECONDS);
    }

    /** Runs one sweep on the reconcile thread and waits for it (bounded). */
    public void sweepNow(Duration timeout) {
        try {
            thread.submit(this::sweepSafely).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("reconcile sweep did not finish within " + timeout.toMillis() + " ms", e);
        }
    }

    /** Asks for a sweep soon (e.g. when a driver connected), without waiting. */
    public void requestSweep() {
        try {
            thread.execute(this::sweepSafely);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closing
        }
    }

    private void sweepSafely() {
        try {
            beforeSweep.run();
            for (String name : drivers.names()) {
                drivers.find(name).ifPresent(d -> sweep(name, d));
            }
            capacity.refresh();
            retryEvacuatedCheck();
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "reconcile sweep failed; next one in " + config.syncPowerStateInterval(), e);
        } finally {
            sweeps.incrementAndGet();
        }
    }

    /** While Placement could not tell whether some instances were evacuated: one more sweep after the backoff. */
    private void retryEvacuatedCheck() {
        ReturningHost back = returning;
        if (back != null && back.waiting() && retryQueued.compareAndSet(false, true)) {
            try {
                thread.schedule(() -> {
                    retryQueued.set(false);
                    sweepSafely();
                }, Math.max(1000, back.backoff().toMillis()), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // closing
            }
        }
    }

    /** Sweeps run to their end since start (metric {@code berth_reconcile_sweeps_total}). */
    public long sweeps() {
        return sweeps.get();
    }

    void sweep(String name, ComputeDriver driver) {
        boolean firstSweep = !started.contains(name);
        List<InstanceInfo> backend;
        try {
            backend = driver.list();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "reconcile: driver " + name + " list() failed, skipping it this time: " + e.getMessage());
            return;
        }
        Map<UUID, InstanceInfo> found = new HashMap<>();
        backend.forEach(i -> found.put(i.uuid(), i));
        for (InstanceRecord r : store.listAll()) {
            if (!r.driver().equals(name)) {
                continue;
            }
            InstanceInfo info = found.remove(r.uuid());
            if (!locks.tryBegin(r.uuid(), "reconcile")) {
                continue;
            }
            try {
                boolean first = firstSweep;
                ReturningHost back = returning;
                if (back != null) {
                    // before reconcile(), whose interrupted-task handling would finish a rebuild or spawn of a copy
                    // that was evacuated: the candidates were taken from the store at start, tasks included
                    InstanceRecord now = store.find(r.uuid()).orElse(r);
                    switch (back.check(driver, now)) {
                        case SKIP, DESTROYED -> {
                            continue;
                        }
                        case FIRST_RECONCILE -> first = true;
                        case RECONCILE -> { }
                    }
                }
                reconcile(driver, r, info, first);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "reconcile: instance " + r.uuid() + ": " + e.getMessage());
            } finally {
                locks.end(r.uuid());
            }
        }
        for (InstanceInfo info : found.values()) {
            adopt(name, info);
        }
        started.add(name);
    }

    private void reconcile(ComputeDriver driver, InstanceRecord stale, InstanceInfo info, boolean firstSweep) {
        InstanceRecord r = store.find(stale.uuid()).orElse(stale);
        UUID uuid = r.uuid();
        if (r.deleted()) {
            if (info != null) {
                runningDeleted(driver, r, info);
            }
            return;
        }
        if (r.taskState() != null && interrupted.finish(driver, r, info)) {
            return;
        }
        if (info == null) {
            if ("deleting".equals(r.taskState())) {
                store.update(r.withState(VmState.DELETED, PowerState.NOSTATE).withTask(null));
                event(uuid, "reconcile.delete_finished", "the backend no longer has it");
            } else if ("spawning".equals(r.taskState())) {
                // the crash may have come after the driver wrote files or plugged a tap, before the backend had the
                // instance: destroy (idempotent, it finds them from what the driver stored) removes those too
                driver.destroy(uuid);
                store.update(r.withState(VmState.ERROR, PowerState.NOSTATE).withTask(null)
                        .withFault("spawn interrupted by an agent restart; what it had built was removed"));
                event(uuid, "reconcile.spawn_rolled_back", null);
            } else if (r.powerState() != PowerState.NOSTATE || r.vmState() != VmState.ERROR || r.fault() == null) {
                store.update(r.withState(VmState.ERROR, PowerState.NOSTATE).withTask(null).withFault(VANISHED));
                event(uuid, "reconcile.vanished", "was " + r.vmState().apiName() + "/" + r.powerState());
                LOG.log(Level.WARNING, "instance " + uuid + ": " + VANISHED + " (" + r.driver() + ")");
            }
            return;
        }
        if ("deleting".equals(r.taskState())) {
            driver.destroy(uuid);
            store.update(r.withState(VmState.DELETED, PowerState.NOSTATE).withTask(null));
            event(uuid, "reconcile.delete_finished", "destroyed after an interrupted delete");
            return;
        }
        if ("spawning".equals(r.taskState())) {
            // a spawn cut off by a crash: finished if the backend reached the state the spec asked for, else rolled
            // back so nothing half-built stays (the instance ends RUNNING or fully removed)
            PowerState wanted = info.spec().powerOn() ? PowerState.RUNNING : PowerState.SHUTDOWN;
            if (info.powerState() != wanted) {
                driver.destroy(uuid);
                store.update(r.withState(VmState.ERROR, PowerState.NOSTATE).withTask(null)
                        .withFault("spawn interrupted by an agent restart; the half-built instance ("
                                + info.powerState() + ") was removed"));
                event(uuid, "reconcile.spawn_rolled_back", "backend had it " + info.powerState());
                return;
            }
        }
        PowerState power = info.powerState();
        if (firstSweep && config.resumeGuestsStateOnHostBoot() && r.vmState() == VmState.ACTIVE
                && power == PowerState.SHUTDOWN) {
            driver.powerOn(uuid);
            power = driver.info(uuid).powerState();
            event(uuid, "reconcile.resumed_guest", "resume_guests_state_on_host_boot: " + power);
        }
        if (r.taskState() != null) {
            event(uuid, "reconcile.task_finished", "task " + r.taskState() + " was interrupted; backend says " + power);
        }
        VmState vm = VmState.of(power);
        if (r.taskState() != null || r.powerState() != power || r.vmState() != vm || r.backendId() == null) {
            if (r.taskState() == null && r.powerState() != power) {
                event(uuid, "reconcile.power_sync", r.powerState() + " -> " + power);
                LOG.log(Level.INFO, "instance " + uuid + ": power state " + r.powerState() + " -> " + power);
            }
            InstanceRecord u = r.withState(vm, power).withTask(null).withBackendId(info.backendId());
            store.update(VANISHED.equals(r.fault()) ? u.withFault(null) : u);
        }
        if (power == PowerState.RUNNING && !info.spec().vifs().isEmpty()) {
            replug(driver, uuid);
        }
    }

    /** VIFs lost behind the agent's back (an OVS port or tap deleted, OVS reset) are plugged again. */
    private void replug(ComputeDriver driver, UUID uuid) {
        try {
            driver.replugVifs(uuid);
        } catch (RuntimeException e) {
            event(uuid, "reconcile.replug_failed", e.getMessage());
            LOG.log(Level.WARNING, "instance " + uuid + ": cannot re-plug its VIFs: " + e.getMessage());
        }
    }

    private void runningDeleted(ComputeDriver driver, InstanceRecord r, InstanceInfo info) {
        RunningDeletedAction action = config.runningDeletedInstanceAction();
        UUID uuid = r.uuid();
        switch (action) {
            case NOOP -> { }
            case LOG -> LOG.log(Level.WARNING, "instance " + uuid + ": deleted in the store but present in "
                    + r.driver() + " (" + info.powerState() + "); running_deleted_instance_action=log");
            case SHUTDOWN -> {
                if (info.powerState() != PowerState.SHUTDOWN) {
                    driver.powerOff(uuid, STOP_TIMEOUT);
                    event(uuid, "reconcile.running_deleted", "shut down (kept for diagnosis)");
                    LOG.log(Level.WARNING, "instance " + uuid + ": deleted but running; shut down");
                }
            }
            case REAP -> {
                driver.destroy(uuid);
                event(uuid, "reconcile.running_deleted", "reaped");
                LOG.log(Level.WARNING, "instance " + uuid + ": deleted but present; reaped");
            }
        }
    }

    private void adopt(String name, InstanceInfo info) {
        UUID uuid = info.uuid();
        if (!locks.tryBegin(uuid, "reconcile")) {
            return;
        }
        try {
            if (store.find(uuid).isPresent()) {
                return;
            }
            Instant now = Instant.now();
            var f = info.spec().flavor();
            store.insert(new InstanceRecord(uuid, info.spec().name(), name, SpecJson.writeString(info.spec()),
                    f.vcpus(), f.memoryMb(), CapacityService.diskGb(f), VmState.of(info.powerState()),
                    info.powerState(), null, info.backendId(), null, now, now));
            event(uuid, "reconcile.adopted", "found in " + name + " as " + info.backendId() + ", " + info.powerState());
            LOG.log(Level.INFO, "instance " + uuid + ": adopted from driver " + name + " (" + info.powerState() + ")");
        } finally {
            locks.end(uuid);
        }
    }

    private void event(UUID uuid, String kind, String detail) {
        store.addEvent(uuid, null, kind, detail);
    }

    @Override
    public void close() {
        thread.shutdownNow();
        try {
            thread.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
