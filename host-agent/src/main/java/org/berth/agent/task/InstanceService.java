package org.berth.agent.task;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import org.berth.agent.capacity.CapacityService;
import org.berth.agent.driver.Drivers;
import org.berth.agent.store.FieldError;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.SpecJson;
import org.berth.agent.store.Store;
import org.berth.agent.store.VmState;
import org.berth.agent.vif.VifBinding;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.DriverInfo;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageStore;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.LifecycleEvent;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;

/**
 * Instance lifecycle as tasks: each request is checked and recorded in the store first, then the driver call
 * runs on the bounded task executor (never on the HTTP event loop), one task per instance at a time.
 */
public final class InstanceService {
    private static final System.Logger LOG = System.getLogger(InstanceService.class.getName());
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);

    private final Store store;
    private final Drivers drivers;
    private final CapacityService capacity;
    private final ImageStore images;
    private final ExecutorService executor;
    private final TaskLocks locks;
    private final OperationStats stats;
    private final Object deviceClaims = new Object();

    public InstanceService(Store store, Drivers drivers, CapacityService capacity, ImageStore images,
                           ExecutorService executor, TaskLocks locks, OperationStats stats) {
        this.store = store;
        this.drivers = drivers;
        this.capacity = capacity;
        this.images = images;
        this.executor = executor;
        this.locks = locks;
        this.stats = stats;
    }

    public TaskLocks locks() {
        return locks;
    }

    /** Validates, claims capacity, records the instance as BUILDING/spawning and starts the spawn. */
    public InstanceRecord spawn(String driverName, InstanceSpec spec, String requestId) {
        ComputeDriver driver = drivers.require(driverName);
        DriverInfo info = driver.describe();
        Image image = images.get(spec.imageId());
        if (!info.accepts(image)) {
            throw new DriverException.ImageInvalid(image.id(), "format " + image.diskFormat().glanceName() + "/"
                    + image.containerFormat().glanceName() + " is not one driver " + driverName + " spawns from");
        }
        UUID uuid = spec.uuid();
        locks.begin(uuid, "spawning");
        try {
            Optional<InstanceRecord> old = store.find(uuid);
            if (old.isPresent() && !old.get().deleted()) {
                throw new DriverException.InstanceExists(uuid);
            }
            old.ifPresent(r -> store.delete(uuid));
            Instant now = Instant.now();
            InstanceRecord record = new InstanceRecord(uuid, spec.name(), driverName, SpecJson.writeString(spec),
                    spec.flavor().vcpus(), spec.flavor().memoryMb(), CapacityService.diskGb(spec.flavor()),
                    VmState.BUILDING, PowerState.NOSTATE, "spawning", null, null, now, now);
            synchronized (deviceClaims) {
                // checked and claimed (the record inserted) at once, so two concurrent spawns cannot share a tap
                checkDevices(uuid, spec.vifs(), "vifs");
                capacity.claim(record);
            }
            store.addEvent(uuid, requestId, "spawn.start", "driver " + driverName + ", image " + image.id());
            LOG.log(Level.INFO, requestId + " instance " + uuid + ": spawn accepted on driver " + driverName);
            submit(uuid, requestId, () -> runSpawn(driver, driverName, spec, requestId), () -> {
                store.delete(uuid);
                // an event after the delete, so what follows the store (the Placement report) drops the claim now
                store.addEvent(uuid, requestId, "spawn.refused", "the task queue is full");
            });
            return record;
        } catch (RuntimeException e) {
            locks.end(uuid);
            throw e;
        }
    }

    private Runnable runSpawn(ComputeDriver driver, String driverName, InstanceSpec spec, String requestId) {
        UUID uuid = spec.uuid();
        long t0 = System.nanoTime();
        try {
            InstanceInfo info = driver.spawn(spec);
            stats.record(driverName, "spawn", System.nanoTime() - t0, false);
            List<VifBinding> bound = drivers.vifBindings().take(uuid);
            return () -> {
                update(uuid, r -> r.withState(VmState.of(info.powerState()), info.powerState())
                        .withBackendId(info.backendId()).withTask(null).withFault(null));
                addBindingEvents(uuid, requestId, bound);
                store.addEvent(uuid, requestId, "spawn.end", "power state " + info.powerState());
                LOG.log(Level.INFO, requestId + " instance " + uuid + ": spawned, " + info.powerState());
            };
        } catch (RuntimeException e) {
            stats.record(driverName, "spawn", System.nanoTime() - t0, true);
            drivers.vifBindings().take(uuid); // rolled back: the fault says what the binding wait found
            return fail(uuid, requestId, "spawn", e, true, null);
        }
    }

    /** Marks the record DELETING and destroys it in the backend; the record stays as DELETED (for reconcile). */
    public InstanceRecord delete(UUID uuid, String requestId) {
        InstanceRecord r = get(uuid);
        locks.begin(uuid, "deleting");
        try {
            InstanceRecord marked = r.withTask("deleting");
            store.update(marked);
            store.addEvent(uuid, requestId, "delete.start", null);
            LOG.log(Level.INFO, requestId + " instance " + uuid + ": delete accepted");
            submit(uuid, requestId, () -> runDelete(r.driver(), uuid, requestId), () -> store.update(r));
            return marked;
        } catch (RuntimeException e) {
            locks.end(uuid);
            throw e;
        }
    }

    private Runnable runDelete(String driverName, UUID uuid, String requestId) {
        long t0 = System.nanoTime();
        try {
            drivers.require(driverName).destroy(uuid);
            stats.record(driverName, "destroy", System.nanoTime() - t0, false);
            return () -> {
                update(uuid, r -> r.withState(VmState.DELETED, PowerState.NOSTATE).withTask(null));
                store.addEvent(uuid, requestId, "delete.end", null);
                LOG.log(Level.INFO, requestId + " instance " + uuid + ": deleted");
            };
        } catch (RuntimeException e) {
            stats.record(driverName, "destroy", System.nanoTime() - t0, true);
            return fail(uuid, requestId, "delete", e, false, drivers.find(driverName).orElse(null));
        }
    }

    /** Checks the action against the driver's capabilities and the vm_state, then runs it as a task. */
    public InstanceRecord act(UUID uuid, Action action, String requestId) {
        InstanceRecord r = get(uuid);
        ComputeDriver driver = drivers.require(r.driver());
        if (action.capability() != null && !driver.describe().has(action.capability())) {
            throw new DriverException.CapabilityMissing(r.driver(), action.capability());
        }
        locks.begin(uuid, action.taskState());
        try {
            InstanceRecord fresh = get(uuid);
            if (!action.allowedFrom().isEmpty() && !action.allowedFrom().contains(fresh.vmState())) {
                throw new DriverException.InvalidInstanceState(uuid, action.verb(), fresh.powerState());
            }
            if (action.vif() != null) {
                checkDevices(uuid, List.of(action.vif()), "vif");
            }
            InstanceRecord marked = fresh.withTask(action.taskState());
            store.update(marked);
            store.addEvent(uuid, requestId, action.verb() + ".start", action.rebootType() == null ? null
                    : "type " + action.rebootType());
            LOG.log(Level.INFO, requestId + " instance " + uuid + ": " + action.verb() + " accepted");
            submit(uuid, requestId, () -> runAction(driver, r.driver(), uuid, action, requestId),
                    () -> store.update(fresh));
            return marked;
        } catch (RuntimeException e) {
            locks.end(uuid);
            throw e;
        }
    }

    private Runnable runAction(ComputeDriver d, String driverName, UUID uuid, Action a, String requestId) {
        long t0 = System.nanoTime();
        try {
            String detail = null;
            switch (a.verb()) {
                case "reboot" -> d.reboot(uuid, a.rebootType());
                case "pause" -> d.pause(uuid);
                case "unpause" -> d.unpause(uuid);
                case "suspend" -> d.suspend(uuid);
                case "resume" -> d.resume(uuid);
                case "stop" -> d.powerOff(uuid, STOP_TIMEOUT);
                case "start" -> d.powerOn(uuid);
                case "snapshot" -> detail = "image " + d.snapshot(uuid, a.snapshotName()).id();
                case "attach_interface" -> {
                    d.attachInterface(uuid, a.vif());
                    detail = "port " + a.vif().portId();
                }
                case "detach_interface" -> {
                    d.detachInterface(uuid, a.portId());
                    detail = "port " + a.portId();
                }
                default -> throw new IllegalStateException("unknown action " + a.verb());
            }
            stats.record(driverName, a.verb(), System.nanoTime() - t0, false);
            // a hot-plug's binding; a power-on or reboot that re-plugs records one too
            List<VifBinding> bound = drivers.vifBindings().take(uuid);
            InstanceInfo info = d.info(uuid);
            String said = detail == null ? "power state " + info.powerState() : detail + ", power state " + info.powerState();
            return () -> {
                update(uuid, r -> r.withState(VmState.of(info.powerState()), info.powerState()).withTask(null)
                        .withFault(null).withSpecJson(SpecJson.writeString(info.spec())));
                addBindingEvents(uuid, requestId, bound);
                store.addEvent(uuid, requestId, a.verb() + ".end", said);
                LOG.log(Level.INFO, requestId + " instance " + uuid + ": " + a.verb() + " done, " + said);
            };
        } catch (RuntimeException e) {
            stats.record(driverName, a.verb(), System.nanoTime() - t0, true);
            drivers.vifBindings().take(uuid);
            return fail(uuid, requestId, a.verb(), e, false, d);
        }
    }

    /**
     * Refuses VIFs whose host device ({@link VifSpec#devName()}: the first 11 characters of the port id) another VIF
     * of the same request (400) or of an instance in the store (409) already has: plugging it would take that
     * device away. The same port on the same instance is not a conflict (attach is idempotent).
     *
     * @param path "vifs" (a spawn's list: fields vifs[i].port_id) or "vif" (one hot-plugged VIF)
     */
    private void checkDevices(UUID self, List<VifSpec> wanted, String path) {
        Map<String, Integer> devices = new HashMap<>();
        for (int i = 0; i < wanted.size(); i++) {
            Integer first = devices.putIfAbsent(wanted.get(i).devName(), i);
            if (first != null) {
                throw new FieldError(path + "[" + i + "].port_id", "device_name", "'" + wanted.get(i).portId()
                        + "' has the first 11 characters of " + path + "[" + first + "].port_id, so the same device "
                        + wanted.get(i).devName() + "; port ids on one host must differ in their first 11 characters");
            }
        }
        for (InstanceRecord r : store.list(Optional.empty())) {
            for (VifSpec used : SpecJson.readString(r.specJson()).vifs()) {
                Integer i = devices.get(used.devName());
                if (i != null && !(r.uuid().equals(self) && used.portId().equals(wanted.get(i).portId()))) {
                    String field = path.equals("vif") ? "vif.port_id" : path + "[" + i + "].port_id";
                    throw new PortConflict(field, wanted.get(i).portId(), used.devName(), r.uuid(), used.portId());
                }
            }
        }
    }

    /** {@code vif.bound} (or, when not fatal, {@code vif.unbound}) per VIF the task waited for OVN to bind. */
    private void addBindingEvents(UUID uuid, String requestId, List<VifBinding> bound) {
        bound.forEach(b -> store.addEvent(uuid, requestId, b.event(), b.detail()));
    }

    /** The tail of the console log (synchronous; the caller runs on a worker thread). */
    public byte[] console(UUID uuid, int maxBytes) {
        InstanceRecord r = get(uuid);
        ComputeDriver d = drivers.require(r.driver());
        if (!d.describe().has(org.berth.driver.api.Capability.CONSOLE_LOG)) {
            throw new DriverException.CapabilityMissing(r.driver(), org.berth.driver.api.Capability.CONSOLE_LOG);
        }
        return d.consoleLog(uuid, maxBytes);
    }

    /** A driver lifecycle event: updates the power state unless a task owns the instance right now. */
    public void onLifecycleEvent(String driverName, LifecycleEvent e) {
        Optional<InstanceRecord> r = store.find(e.uuid());
        if (r.isEmpty() || r.get().deleted() || !r.get().driver().equals(driverName)) {
            return;
        }
        store.addEvent(e.uuid(), null, "lifecycle", e.transition().name());
        PowerState p = e.transition().powerState();
        // only while no task runs: a task sets the state it ends in itself (without taking the task lock, so
        // that an event never makes a client's next action fail with 409)
        if (store.updateStateIfIdle(e.uuid(), VmState.of(p), p)) {
            LOG.log(Level.INFO, "instance " + e.uuid() + ": lifecycle event " + e.transition() + " from " + driverName);
        }
    }

    /** The record, if it exists and is not deleted. */
    public InstanceRecord get(UUID uuid) {
        return store.find(uuid).filter(r -> !r.deleted())
                .orElseThrow(() -> new DriverException.InstanceNotFound(uuid));
    }

    /** Runs {@code task} (the driver call) on the task pool; the write it returns ends the task atomically. */
    private void submit(UUID uuid, String requestId, java.util.function.Supplier<Runnable> task, Runnable undo) {
        try {
            executor.execute(() -> {
                Runnable last = () -> { };
                try {
                    last = task.get();
                } catch (RuntimeException e) {
                    LOG.log(Level.ERROR, requestId + " instance " + uuid + ": task failed unexpectedly", e);
                    last = () -> update(uuid, r -> r.withTask(null).withFault("internal error: " + e));
                } finally {
                    Runnable write = last;
                    try {
                        locks.endWith(uuid, write);
                    } catch (RuntimeException e) {
                        LOG.log(Level.ERROR, requestId + " instance " + uuid + ": cannot record the task's end", e);
                    }
                }
            });
        } catch (RejectedExecutionException e) {
            undo.run();
            throw new DriverException.BackendUnavailable("agent task queue", "too many tasks in flight; retry later", e);
        }
    }

    /** Logs the failure and returns the write that records it (with the power state the backend now reports). */
    private Runnable fail(UUID uuid, String requestId, String op, RuntimeException e, boolean spawn, ComputeDriver d) {
        String fault = op + " failed: " + e.getMessage();
        LOG.log(e instanceof DriverException ? Level.WARNING : Level.ERROR,
                requestId + " instance " + uuid + ": " + fault, e instanceof DriverException ? null : e);
        PowerState now = null;
        if (!spawn && d != null) {
            try {
                now = d.info(uuid).powerState();
            } catch (RuntimeException ignored) {
                // the periodic sync will catch up
            }
        }
        PowerState power = now;
        return () -> {
            update(uuid, r -> {
                InstanceRecord x = r.withTask(null).withFault(fault);
                if (spawn) {
                    return x.withState(VmState.ERROR, PowerState.NOSTATE);
                }
                return power == null ? x : x.withState(VmState.of(power), power);
            });
            store.addEvent(uuid, requestId, op + ".error", fault);
        };
    }

    private void update(UUID uuid, java.util.function.UnaryOperator<InstanceRecord> change) {
        store.find(uuid).ifPresent(r -> store.update(change.apply(r)));
    }
}
