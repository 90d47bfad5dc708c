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
import org.berth.agent.store.Migration;
import org.berth.agent.store.SpecJson;
import org.berth.agent.store.Store;
import org.berth.agent.store.VmState;
import org.berth.agent.vif.VifBinding;
import org.berth.driver.api.Capability;
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
        return spawn(driverName, spec, requestId, null);
    }

    /**
     * A spawn; with {@code migration} (role destination) the instance arrives from a cold migration or resize: the
     * record carries the marker until {@code confirm_migration} (or a delete, the conductor's revert) ends it.
     */
    public InstanceRecord spawn(String driverName, InstanceSpec spec, String requestId, Migration migration) {
        ComputeDriver driver = drivers.require(driverName);
        DriverInfo info = driver.describe();
        Image image = images.get(spec.imageId());
        if (!info.accepts(image)) {
            throw new DriverException.ImageInvalid(image.id(), "format " + image.diskFormat().glanceName() + "/"
                    + image.containerFormat().glanceName() + " is not one driver " + driverName + " spawns from");
        }
        try {
            driver.validate(spec);
        } catch (IllegalArgumentException e) {
            throw SpecJson.fromRecord(e, "");
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
                    VmState.BUILDING, PowerState.NOSTATE, "spawning", null, null, now, now, migration);
            synchronized (deviceClaims) {
                // checked and claimed (the record inserted) at once, so two concurrent spawns cannot share a tap
                checkDevices(uuid, spec.vifs(), "vifs");
                capacity.claim(record);
            }
            store.addEvent(uuid, requestId, "spawn.start", "driver " + driverName + ", image " + image.id()
                    + (migration == null ? "" : ", migration " + migration.id() + " from " + migration.peer()));
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
            String carried = dropCarriedImage(uuid);
            return () -> {
                update(uuid, r -> r.withState(VmState.DELETED, PowerState.NOSTATE).withTask(null));
                store.addEvent(uuid, requestId, "delete.end", carried);
                LOG.log(Level.INFO, requestId + " instance " + uuid + ": deleted");
            };
        } catch (RuntimeException e) {
            stats.record(driverName, "destroy", System.nanoTime() - t0, true);
            return fail(uuid, requestId, "delete", e, false, drivers.find(driverName).orElse(null));
        }
    }

    /**
     * A migrated instance runs from the image its migration carried here ({@code migration-<id>}): that image is the
     * instance's disk, not a user's image, so it goes with the instance (unless another instance uses it). Returns
     * what was done, for the delete's event (null: nothing).
     */
    private String dropCarriedImage(UUID uuid) {
        try {
            return dropCarriedImage(SpecJson.readString(get(uuid).specJson()).imageId(), uuid);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "instance " + uuid + ": its migration image was not deleted: " + e.getMessage());
            return null;
        }
    }

    /** Deletes image {@code id} if a migration carried it here and no instance but {@code self} runs from it. */
    private String dropCarriedImage(String id, UUID self) {
        Image image = images.list().stream().filter(i -> i.id().equals(id)).findFirst().orElse(null);
        if (image == null || !image.name().startsWith("migration-")) {
            return null;
        }
        boolean shared = store.list(Optional.empty()).stream().anyMatch(r -> !r.uuid().equals(self) && !r.deleted()
                && SpecJson.readString(r.specJson()).imageId().equals(id));
        if (shared) {
            return null;
        }
        images.delete(id);
        return "the migration's image " + id + " deleted with it";
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

    // ---- cold migration, resize, rebuild (Nova's flows; the conductor is the CLI, org.berth.agent.cloud.Moves) ----

    /**
     * The source's side of a move: records the marker (role source) at once, then as task {@code resize_migrating}
     * powers the instance off, unplugs its VIFs (so OVN can bind the ports on the destination) and snapshots its
     * root disk to the image {@code migration-<id>}; ends STOPPED with the image id in the marker. A failure powers
     * it on again (if it was active) and clears the marker. The same migration id again once done is a no-op.
     */
    public InstanceRecord migrateOut(UUID uuid, UUID migrationId, String destination, String requestId) {
        InstanceRecord r = get(uuid);
        ComputeDriver driver = drivers.require(r.driver());
        if (!driver.describe().has(Capability.SNAPSHOT)) {
            throw new DriverException.CapabilityMissing(r.driver(), Capability.SNAPSHOT);
        }
        locks.begin(uuid, "resize_migrating");
        try {
            InstanceRecord fresh = get(uuid);
            Migration m = fresh.migration();
            if (m != null) {
                if (m.id().equals(migrationId) && m.role() == Migration.Role.SOURCE && m.imageId() != null) {
                    locks.end(uuid);
                    return fresh; // done already: a conductor run again on a half-moved instance goes on from here
                }
                throw new MigrationConflict("migrate_out.migration_id", "in_migration", "instance " + uuid
                        + " is already in migration " + m.id() + " as its " + m.role().apiName()
                        + "; confirm or revert that one first");
            }
            if (fresh.vmState() != VmState.ACTIVE && fresh.vmState() != VmState.STOPPED) {
                throw new DriverException.InvalidInstanceState(uuid, "migrate_out", fresh.powerState());
            }
            InstanceSpec spec = SpecJson.readString(fresh.specJson());
            Migration mine = new Migration(migrationId, Migration.Role.SOURCE, destination, null, spec.flavor(),
                    fresh.vmState() == VmState.ACTIVE);
            InstanceRecord marked = fresh.withTask("resize_migrating").withMigration(mine);
            store.update(marked);
            store.addEvent(uuid, requestId, "migrate_out.start", "migration " + migrationId + " to " + destination);
            LOG.log(Level.INFO, requestId + " instance " + uuid + ": migrate_out accepted (migration " + migrationId
                    + " to " + destination + ")");
            boolean wasActive = fresh.vmState() == VmState.ACTIVE;
            submit(uuid, requestId, () -> runMigrateOut(driver, r.driver(), uuid, mine, wasActive, requestId),
                    () -> store.update(fresh));
            return marked;
        } catch (RuntimeException e) {
            locks.end(uuid);
            throw e;
        }
    }

    private Runnable runMigrateOut(ComputeDriver d, String driverName, UUID uuid, Migration m, boolean wasActive,
                                   String requestId) {
        long t0 = System.nanoTime();
        try {
            d.powerOff(uuid, STOP_TIMEOUT);
            unplugAll(uuid, d.info(uuid).spec().vifs());
            deleteImagesNamed(m.imageName()); // what an interrupted earlier try left
            Image image = d.snapshot(uuid, m.imageName());
            stats.record(driverName, "migrate_out", System.nanoTime() - t0, false);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            return () -> {
                update(uuid, r -> r.withState(VmState.STOPPED, PowerState.SHUTDOWN).withTask(null).withFault(null)
                        .withMigration(m.withImageId(image.id())));
                store.addEvent(uuid, requestId, "migrate_out.end", "image " + image.id() + " (" + image.size()
                        + " bytes), VIFs unplugged, " + ms + " ms");
                LOG.log(Level.INFO, requestId + " instance " + uuid + ": migrate_out done, image " + image.id());
            };
        } catch (RuntimeException e) {
            stats.record(driverName, "migrate_out", System.nanoTime() - t0, true);
            Runnable failed = fail(uuid, requestId, "migrate_out", e, false, d);
            String undone = rollBackMigrateOut(d, uuid, m, wasActive);
            return () -> {
                failed.run();
                update(uuid, r -> r.withMigration(null));
                store.addEvent(uuid, requestId, "migrate_out.rolled_back", undone);
            };
        }
    }

    /** Undoes a migrate_out that failed or was interrupted: the image goes, the instance is as it was. */
    String rollBackMigrateOut(ComputeDriver d, UUID uuid, Migration m, boolean wasActive) {
        StringBuilder said = new StringBuilder();
        try {
            deleteImagesNamed(m.imageName());
        } catch (RuntimeException e) {
            said.append("image ").append(m.imageName()).append(" not removed: ").append(e.getMessage()).append("; ");
        }
        try {
            if (wasActive) {
                d.powerOn(uuid); // plugs the VIFs again
                said.append("powered on again");
            } else {
                d.replugVifs(uuid);
                said.append("left stopped");
            }
        } catch (RuntimeException e) {
            said.append("could not power on again: ").append(e.getMessage());
        }
        return said.toString();
    }

    /**
     * {@code confirm_migration}. On the source (task {@code resize_confirming}): destroys the stopped copy, deletes the
     * migration's image and records the instance deleted. On the destination: clears the marker (synchronously).
     */
    public InstanceRecord confirmMigration(UUID uuid, String requestId) {
        InstanceRecord r = get(uuid);
        ComputeDriver driver = drivers.require(r.driver());
        locks.begin(uuid, "resize_confirming");
        try {
            InstanceRecord fresh = get(uuid);
            Migration m = requireMigration(fresh, "confirm_migration");
            if (m.role() == Migration.Role.DESTINATION) {
                if (fresh.vmState() == VmState.BUILDING) {
                    throw new DriverException.InvalidInstanceState(uuid, "confirm_migration", fresh.powerState());
                }
                InstanceRecord done = fresh.withMigration(null);
                store.update(done);
                store.addEvent(uuid, requestId, "confirm_migration.end", "migration " + m.id() + " confirmed");
                locks.end(uuid);
                return done;
            }
            if (m.imageId() == null) {
                throw new MigrationConflict("confirm_migration", "not_migrated", "migration " + m.id()
                        + " has not finished migrate_out on this host; revert it or run migrate_out again");
            }
            InstanceRecord marked = fresh.withTask("resize_confirming");
            store.update(marked);
            store.addEvent(uuid, requestId, "confirm_migration.start", "migration " + m.id());
            submit(uuid, requestId, () -> runConfirm(driver, r.driver(), uuid, m, requestId), () -> store.update(fresh));
            return marked;
        } catch (RuntimeException e) {
            locks.end(uuid);
            throw e;
        }
    }

    private Runnable runConfirm(ComputeDriver d, String driverName, UUID uuid, Migration m, String requestId) {
        long t0 = System.nanoTime();
        try {
            finishConfirm(d, uuid, m);
            String carried = dropCarriedImage(uuid); // it came here by an earlier migration
            stats.record(driverName, "confirm_migration", System.nanoTime() - t0, false);
            return () -> {
                update(uuid, r -> r.withState(VmState.DELETED, PowerState.NOSTATE).withTask(null));
                store.addEvent(uuid, requestId, "confirm_migration.end", "source copy destroyed, image "
                        + m.imageId() + " deleted" + (carried == null ? "" : "; " + carried));
                LOG.log(Level.INFO, requestId + " instance " + uuid + ": migration " + m.id() + " confirmed");
            };
        } catch (RuntimeException e) {
            stats.record(driverName, "confirm_migration", System.nanoTime() - t0, true);
            return fail(uuid, requestId, "confirm_migration", e, false, d);
        }
    }

    /** Destroys the source's copy and deletes the migration image (idempotent: reconcile calls it again). */
    void finishConfirm(ComputeDriver d, UUID uuid, Migration m) {
        d.destroy(uuid);
        deleteImagesNamed(m.imageName());
    }

    /** {@code revert_migration} on the source (task {@code resize_reverting}): replug, power on, clear the marker. */
    public InstanceRecord revertMigration(UUID uuid, String requestId) {
        InstanceRecord r = get(uuid);
        ComputeDriver driver = drivers.require(r.driver());
        locks.begin(uuid, "resize_reverting");
        try {
            InstanceRecord fresh = get(uuid);
            Migration m = requireMigration(fresh, "revert_migration");
            if (m.role() != Migration.Role.SOURCE) {
                throw new MigrationConflict("revert_migration", "not_source", "this host is migration " + m.id()
                        + "'s destination; a revert deletes the instance here and reverts on the source "
                        + m.peer());
            }
            InstanceRecord marked = fresh.withTask("resize_reverting");
            store.update(marked);
            store.addEvent(uuid, requestId, "revert_migration.start", "migration " + m.id());
            submit(uuid, requestId, () -> runRevert(driver, r.driver(), uuid, m, requestId), () -> store.update(fresh));
            return marked;
        } catch (RuntimeException e) {
            locks.end(uuid);
            throw e;
        }
    }

    /**
     * A revert gives the source back as migrate_out found it: powered on (which plugs the VIFs again) if it was
     * active then or the marker predates {@code was_active}; otherwise left stopped with its VIFs plugged again.
     */
    private static void restoreSource(ComputeDriver d, UUID uuid, Migration m) {
        if (Boolean.FALSE.equals(m.wasActive())) {
            d.replugVifs(uuid);
        } else {
            d.powerOn(uuid);
        }
    }

    private Runnable runRevert(ComputeDriver d, String driverName, UUID uuid, Migration m, String requestId) {
        long t0 = System.nanoTime();
        try {
            restoreSource(d, uuid, m);
            deleteImagesNamed(m.imageName());
            stats.record(driverName, "revert_migration", System.nanoTime() - t0, false);
            List<VifBinding> bound = drivers.vifBindings().take(uuid);
            InstanceInfo info = d.info(uuid);
            return () -> {
                update(uuid, r -> r.withState(VmState.of(info.powerState()), info.powerState()).withTask(null)
                        .withFault(null).withMigration(null));
                addBindingEvents(uuid, requestId, bound);
                store.addEvent(uuid, requestId, "revert_migration.end", "power state " + info.powerState());
                LOG.log(Level.INFO, requestId + " instance " + uuid + ": migration " + m.id() + " reverted");
            };
        } catch (RuntimeException e) {
            stats.record(driverName, "revert_migration", System.nanoTime() - t0, true);
            drivers.vifBindings().take(uuid);
            return fail(uuid, requestId, "revert_migration", e, false, d);
        }
    }

    /**
     * {@code rebuild} (task {@code rebuilding}): destroys the backend object and spawns it again with the same uuid,
     * VIFs, properties and flavor from {@code imageId} (null = the image it has). The spec is written first, so a
     * rebuild cut off by a restart is finished by reconcile from it. The claim does not change.
     */
    public InstanceRecord rebuild(UUID uuid, String imageId, String requestId) {
        InstanceRecord r = get(uuid);
        ComputeDriver driver = drivers.require(r.driver());
        InstanceSpec old = SpecJson.readString(r.specJson());
        String target = imageId == null ? old.imageId() : imageId;
        Image image = images.get(target);
        if (!driver.describe().accepts(image)) {
            throw new DriverException.ImageInvalid(image.id(), "format " + image.diskFormat().glanceName() + "/"
                    + image.containerFormat().glanceName() + " is not one driver " + r.driver() + " spawns from");
        }
        locks.begin(uuid, "rebuilding");
        try {
            InstanceRecord fresh = get(uuid);
            if (fresh.migration() != null) {
                throw new MigrationConflict("rebuild", "in_migration", "instance " + uuid + " is in migration "
                        + fresh.migration().id() + "; confirm or revert it first");
            }
            if (fresh.vmState() == VmState.BUILDING) {
                throw new DriverException.InvalidInstanceState(uuid, "rebuild", fresh.powerState());
            }
            InstanceSpec now = SpecJson.readString(fresh.specJson());
            InstanceSpec spec = new InstanceSpec(uuid, now.name(), now.flavor(), image.id(), now.vifs(),
                    now.properties(), fresh.vmState() != VmState.STOPPED, now.guest());
            InstanceRecord marked = fresh.withTask("rebuilding").withSpecJson(SpecJson.writeString(spec));
            store.update(marked);
            store.addEvent(uuid, requestId, "rebuild.start", "image " + image.id());
            submit(uuid, requestId, () -> runRebuild(driver, r.driver(), spec, now.imageId(), requestId),
                    () -> store.update(fresh));
            return marked;
        } catch (RuntimeException e) {
            locks.end(uuid);
            throw e;
        }
    }

    private Runnable runRebuild(ComputeDriver d, String driverName, InstanceSpec spec, String previousImage,
                                String requestId) {
        UUID uuid = spec.uuid();
        long t0 = System.nanoTime();
        try {
            InstanceInfo info = respawn(d, spec);
            stats.record(driverName, "rebuild", System.nanoTime() - t0, false);
            if (!previousImage.equals(spec.imageId())) {
                try {
                    dropCarriedImage(previousImage, uuid); // its old disk, if a migration carried it here
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "instance " + uuid + ": image " + previousImage + " not deleted: "
                            + e.getMessage());
                }
            }
            List<VifBinding> bound = drivers.vifBindings().take(uuid);
            return () -> {
                update(uuid, r -> r.withState(VmState.of(info.powerState()), info.powerState())
                        .withBackendId(info.backendId()).withTask(null).withFault(null));
                addBindingEvents(uuid, requestId, bound);
                store.addEvent(uuid, requestId, "rebuild.end", "image " + spec.imageId() + ", power state "
                        + info.powerState());
                LOG.log(Level.INFO, requestId + " instance " + uuid + ": rebuilt from image " + spec.imageId());
            };
        } catch (RuntimeException e) {
            stats.record(driverName, "rebuild", System.nanoTime() - t0, true);
            drivers.vifBindings().take(uuid);
            return fail(uuid, requestId, "rebuild", e, true, null);
        }
    }

    /** Destroy (idempotent) and spawn again: a rebuild, or its finish by reconcile. */
    InstanceInfo respawn(ComputeDriver d, InstanceSpec spec) {
        d.destroy(spec.uuid());
        return d.spawn(spec);
    }

    private static Migration requireMigration(InstanceRecord r, String verb) {
        if (r.migration() == null) {
            throw new MigrationConflict(verb, "no_migration", "instance " + r.uuid() + " is in no migration on "
                    + "this host");
        }
        if (r.taskState() != null) {
            throw new TaskConflict(r.uuid(), r.taskState());
        }
        return r.migration();
    }

    private void unplugAll(UUID uuid, List<VifSpec> vifs) {
        drivers.vifPlugger().ifPresent(p -> vifs.forEach(v -> p.unplug(uuid, v)));
    }

    /** Deletes the agent's images of that name (a migration's snapshot; nothing else is named migration-…). */
    void deleteImagesNamed(String name) {
        for (Image i : images.list()) {
            if (i.name().equals(name)) {
                images.delete(i.id());
            }
        }
    }

    /**
     * Finishes or rolls back a move task an agent restart cut off (called by reconcile under the instance's lock):
     * {@code resize_migrating} is rolled back, {@code resize_confirming} and {@code resize_reverting} are finished,
     * {@code rebuilding} is finished from the spec written before it started. Returns false for any other task.
     * A finish that fails leaves the record ERROR with the fault and no task (as a failed task does), never the task
     * itself: every sweep would try again and the API would refuse everything, delete included, with 409.
     */
    public boolean finishInterrupted(ComputeDriver d, InstanceRecord r, InstanceInfo info) {
        String task = r.taskState();
        if (task == null || !finishable(r, info)) {
            return false;
        }
        try {
            finishTask(d, r, info);
        } catch (RuntimeException e) {
            failInterrupted(d, r, e);
        }
        return true;
    }

    /** Whether {@link #finishTask} knows the task in this state (else reconcile's own rules apply). */
    private static boolean finishable(InstanceRecord r, InstanceInfo info) {
        return switch (r.taskState()) {
            case "resize_migrating", "resize_reverting" -> r.migration() != null && info != null;
            case "resize_confirming" -> r.migration() != null;
            case "rebuilding" -> true;
            default -> false;
        };
    }

    /**
     * Records a finish that threw: ERROR, the fault, no task, an event (as a failed task's {@code fail}). A revert's
     * marker is cleared (the source copy is the instance now, broken or not); a confirm keeps its marker so that
     * confirm_migration can be asked again; a migrate_out rollback records its own outcome and does not get here.
     */
    private void failInterrupted(ComputeDriver d, InstanceRecord r, RuntimeException e) {
        UUID uuid = r.uuid();
        String op = switch (r.taskState()) {
            case "resize_migrating" -> "migrate_out rollback";
            case "resize_confirming" -> "confirm_migration";
            case "resize_reverting" -> "revert_migration";
            default -> "rebuild";
        };
        String fault = op + " after an agent restart failed: " + e.getMessage();
        LOG.log(e instanceof DriverException ? Level.WARNING : Level.ERROR, "instance " + uuid + ": " + fault,
                e instanceof DriverException ? null : e);
        PowerState power = PowerState.NOSTATE;
        try {
            power = d.info(uuid).powerState();
        } catch (RuntimeException ignored) {
            // gone or unreadable: NOSTATE, the periodic sync catches up
        }
        InstanceRecord now = store.find(uuid).orElse(r);
        InstanceRecord failed = now.withState(VmState.ERROR, power).withTask(null).withFault(fault);
        store.update("resize_reverting".equals(r.taskState()) ? failed.withMigration(null) : failed);
        store.addEvent(uuid, null, "reconcile." + r.taskState() + ".error", fault);
    }

    private void finishTask(ComputeDriver d, InstanceRecord r, InstanceInfo info) {
        UUID uuid = r.uuid();
        Migration m = r.migration();
        switch (r.taskState()) {
            case "resize_migrating" -> {
                // the rollback reports its own failures in its words; only the power state can still be unknown
                String undone = rollBackMigrateOut(d, uuid, m, r.vmState() == VmState.ACTIVE);
                PowerState p;
                try {
                    p = d.info(uuid).powerState();
                } catch (RuntimeException e) {
                    p = PowerState.NOSTATE;
                    undone += "; power state unknown: " + e.getMessage();
                }
                store.update(r.withState(VmState.of(p), p).withTask(null).withMigration(null)
                        .withFault("migrate_out interrupted by an agent restart; rolled back"));
                store.addEvent(uuid, null, "reconcile.migrate_out_rolled_back", undone);
            }
            case "resize_confirming" -> {
                finishConfirm(d, uuid, m);
                store.update(r.withState(VmState.DELETED, PowerState.NOSTATE).withTask(null));
                store.addEvent(uuid, null, "reconcile.confirm_finished", "migration " + m.id());
            }
            case "resize_reverting" -> {
                restoreSource(d, uuid, m);
                deleteImagesNamed(m.imageName());
                PowerState p = d.info(uuid).powerState();
                store.update(r.withState(VmState.of(p), p).withTask(null).withMigration(null));
                store.addEvent(uuid, null, "reconcile.revert_finished", "migration " + m.id() + ", " + p);
            }
            case "rebuilding" -> {
                InstanceSpec spec = SpecJson.readString(r.specJson());
                InstanceInfo now = info != null && info.spec().imageId().equals(spec.imageId())
                        && info.powerState() == (spec.powerOn() ? PowerState.RUNNING : PowerState.SHUTDOWN)
                        ? info : respawn(d, spec);
                store.update(r.withState(VmState.of(now.powerState()), now.powerState())
                        .withBackendId(now.backendId()).withTask(null));
                store.addEvent(uuid, null, "reconcile.rebuild_finished", "image " + spec.imageId());
            }
            default -> throw new IllegalStateException("task " + r.taskState() + " is not a move task");
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
