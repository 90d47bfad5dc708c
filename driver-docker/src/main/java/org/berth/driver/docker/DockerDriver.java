package org.berth.driver.docker;

import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.ConflictException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Container;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.DriverInfo;
import org.berth.driver.api.ExecSpec;
import org.berth.driver.api.HostResources;
import org.berth.driver.api.Image;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.InstanceStream;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;
import org.berth.driver.api.VifSpec;

/** {@link ComputeDriver} on a Docker engine: the lifecycle verbs, each delegating to one small collaborator. */
final class DockerDriver implements ComputeDriver {
    private final DriverInfo info;
    private final Engine engine;
    private final DriverContext ctx;
    private final ImageLoader images;
    private final ContainerFactory factory;
    private final Vifs vifs;
    private final MetadataDir metadata;
    private final PowerControl power;
    private final ConsoleTail console;
    private final Execs execs;
    private final Snapshotter snapshots;
    private final HostProbe host;
    private final ContainerStats stats;
    private final EventPump events;
    /** Spawns in flight per engine image, so a failed spawn never discards an image another spawn is using. */
    private final Map<String, AtomicInteger> spawning = new ConcurrentHashMap<>();

    DockerDriver(DriverInfo info, DockerSettings settings, Engine engine, EventPump events, DriverContext ctx) {
        this.info = info;
        this.engine = engine;
        this.ctx = ctx;
        this.images = new ImageLoader(engine, ctx.images());
        this.vifs = new Vifs(ctx.vifPlugger(), ctx.stateDir());
        this.metadata = new MetadataDir(ctx.stateDir(), settings::containerName);
        this.factory = new ContainerFactory(engine, settings, ctx.owner());
        this.power = new PowerControl(engine, vifs, metadata, settings.stopTimeout());
        this.console = new ConsoleTail(engine);
        this.execs = new Execs(engine);
        this.snapshots = new Snapshotter(engine, ctx.images(), ctx.stateDir(), settings.callTimeout());
        this.host = new HostProbe(engine, ctx.stateDir());
        this.stats = new ContainerStats(engine, Path.of("/sys"));
        this.events = events;
    }

    @Override
    public DriverInfo describe() {
        return info;
    }

    /** Metadata the container's environment cannot carry (two keys naming one variable, a NUL in a value). */
    @Override
    public void validate(InstanceSpec spec) {
        GuestEnvironment.of(spec.guest());
    }

    @Override
    public InstanceInfo spawn(InstanceSpec spec) {
        validate(spec); // a spec the environment cannot carry is refused before anything is made
        Image image = ctx.images().get(spec.imageId());
        if (!info.accepts(image)) {
            throw new DriverException.ImageInvalid(image.id(), "format " + image.diskFormat().glanceName() + "/"
                    + image.containerFormat().glanceName() + " is not one of " + info.imageFormats());
        }
        ImageLoader.Loaded loaded = images.ensure(image);
        String engineImage = loaded.engineId();
        AtomicInteger inFlight = spawning.computeIfAbsent(engineImage, k -> new AtomicInteger());
        inFlight.incrementAndGet();
        boolean counted = true;
        String containerId = null;
        boolean wroteMetadata = false;
        try {
            Path dir = null;
            if (MetadataDir.wanted(spec)) {
                clearStaleMetadata(spec.uuid());
                wroteMetadata = true; // from here on a failure removes what create may have written
                metadata.create(spec);
                dir = metadata.path(spec.uuid());
            }
            try {
                containerId = factory.create(spec, image, loaded.engineId(), dir);
            } catch (DriverException.BackendFailure e) {
                if (e.getCause() instanceof ConflictException) {
                    // The name berth-<uuid> is taken (no pre-check inspect: spawn stays two engine calls long).
                    throw new DriverException.InstanceExists(spec.uuid());
                }
                if (e.getCause() instanceof NotFoundException && !loaded.loadedNow()) {
                    // Someone removed the cached image from the engine: load it again, once.
                    images.forget(image);
                    loaded = images.ensure(image);
                    containerId = factory.create(spec, image, loaded.engineId(), dir);
                } else {
                    throw e;
                }
            }
            if (spec.powerOn()) {
                power.start(spec.uuid(), containerId, spec);
            }
            return info(spec.uuid());
        } catch (RuntimeException e) {
            if (containerId != null) {
                rollback(spec, containerId, e);
            }
            if (wroteMetadata) {
                metadata.remove(spec.uuid(), e);
            }
            counted = false;
            if (inFlight.decrementAndGet() == 0 && loaded.loadedNow()) {
                images.discard(engineImage); // no throwaway image stays behind a failed spawn
            }
            throw e;
        } finally {
            if (counted) {
                inFlight.decrementAndGet();
            }
        }
    }

    /**
     * A metadata directory of this uuid is either the live instance's (then the spawn is a duplicate and must leave
     * it alone) or a leftover of a spawn or destroy cut off by a crash (then it goes, so the new one is complete).
     */
    private void clearStaleMetadata(UUID uuid) {
        if (metadata.exists(uuid)) {
            if (engine.inspect(uuid).isPresent()) {
                throw new DriverException.InstanceExists(uuid);
            }
            metadata.remove(uuid, null);
        }
    }

    private void rollback(InstanceSpec spec, String containerId, RuntimeException failure) {
        try {
            vifs.unplugAll(spec.uuid(), spec.vifs(), failure);
            engine.run("remove", null, () -> engine.client().removeContainerCmd(containerId).withForce(true)
                    .withRemoveVolumes(true).exec());
            vifs.forget(spec.uuid());
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    @Override
    public void destroy(UUID uuid) {
        var found = engine.inspect(uuid);
        if (found.isPresent()) {
            InspectContainerResponse c = found.get();
            List<VifSpec> plugged = spec(c).vifs();
            try {
                engine.run("remove", null, () -> engine.client().removeContainerCmd(c.getId()).withForce(true)
                        .withRemoveVolumes(true).exec());
            } catch (DriverException.BackendFailure e) {
                if (!(e.getCause() instanceof NotFoundException)) {
                    throw e; // removed meanwhile is fine; anything else is not
                }
            }
            vifs.unplugAll(uuid, plugged, null);
            evictIfDeleted(spec(c).imageId(), c.getImageId());
        }
        vifs.forget(uuid);
        metadata.remove(uuid, null);
    }

    /**
     * The engine keeps loaded images as a cache. Once an image is gone from the image store (a deleted snapshot),
     * its engine copy is garbage as soon as no container uses it: remove it, or every deleted snapshot would stay
     * in the engine forever. Images still in the store stay cached.
     */
    private void evictIfDeleted(String imageId, String engineImage) {
        try {
            ctx.images().get(imageId);
        } catch (DriverException.ImageNotFound gone) {
            images.discard(engineImage);
        }
    }

    @Override
    public void powerOff(UUID uuid, Duration timeout) {
        power.powerOff(uuid, timeout);
    }

    @Override
    public void powerOn(UUID uuid) {
        power.powerOn(uuid);
    }

    @Override
    public void reboot(UUID uuid, RebootType type) {
        power.reboot(uuid, type == null ? RebootType.HARD : type);
    }

    @Override
    public void pause(UUID uuid) {
        power.pause(uuid);
    }

    @Override
    public void unpause(UUID uuid) {
        power.unpause(uuid);
    }

    /** Docker has no save-to-disk of a process tree (CRIU checkpoints are experimental): not faked with stop/start. */
    @Override
    public void suspend(UUID uuid) {
        throw new DriverException.CapabilityMissing(info.name(), Capability.SUSPEND);
    }

    @Override
    public void resume(UUID uuid) {
        throw new DriverException.CapabilityMissing(info.name(), Capability.SUSPEND);
    }

    @Override
    public InstanceInfo info(UUID uuid) {
        InspectContainerResponse c = engine.require(uuid);
        return new InstanceInfo(uuid, PowerStates.of(c), spec(c), c.getId());
    }

    @Override
    public List<InstanceInfo> list() {
        return listAll(true);
    }

    /** Berth's containers on the host: this context's owner's only, or ({@code mine} false) everyone's. */
    private List<InstanceInfo> listAll(boolean mine) {
        List<Container> containers = engine.call("list", null, () -> engine.client().listContainersCmd()
                .withShowAll(true).withLabelFilter(List.of(SpecLabels.UUID_LABEL)).exec());
        List<InstanceInfo> out = new ArrayList<>();
        for (Container c : containers) {
            var spec = SpecLabels.from(c.getLabels());
            if (spec.isEmpty() || !isNamed(c, engine.name(spec.get().uuid()))) {
                continue; // labelled by someone else, or damaged: not an instance we can describe
            }
            if (mine && !ctx.owns(c.getLabels().get(SpecLabels.OWNER_LABEL))) {
                continue; // another Berth user's on this host (a conformance run beside the agent)
            }
            out.add(new InstanceInfo(spec.get().uuid(), PowerStates.of(c.getState(), false),
                    vifs.current(spec.get()), c.getId()));
        }
        return out;
    }

    private static boolean isNamed(Container c, String name) {
        if (c.getNames() == null) {
            return false;
        }
        for (String n : c.getNames()) {
            if (n.equals("/" + name)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public byte[] consoleLog(UUID uuid, int maxBytes) {
        return console.tail(uuid, maxBytes);
    }

    /** Declared ({@link Capability#EXEC}) only when {@link Wire} reaches the engine; otherwise the default refusal. */
    @Override
    public InstanceStream exec(UUID uuid, ExecSpec spec) {
        if (!info.has(Capability.EXEC)) {
            throw new DriverException.CapabilityMissing(info.name(), Capability.EXEC);
        }
        return execs.exec(uuid, spec);
    }

    @Override
    public Image snapshot(UUID uuid, String imageName) {
        return snapshots.snapshot(uuid, imageName);
    }

    @Override
    public void attachInterface(UUID uuid, VifSpec vif) {
        requireHotplug();
        InspectContainerResponse c = engine.require(uuid);
        PowerState state = PowerStates.of(c);
        if (state != PowerState.RUNNING) {
            throw new DriverException.InvalidInstanceState(uuid, "attach interface", state);
        }
        InstanceSpec current = spec(c);
        if (current.vifs().stream().anyMatch(v -> v.portId().equals(vif.portId()))) {
            return; // already attached
        }
        InstanceSpec next = vifs.attach(current, vif, c.getState().getPidLong());
        try {
            metadata.rewriteNetwork(next);
        } catch (RuntimeException e) {
            try {
                vifs.detach(next, vif); // the guest's network_data.json and its interfaces stay in step
            } catch (RuntimeException undo) {
                e.addSuppressed(undo);
            }
            throw e;
        }
    }

    @Override
    public void detachInterface(UUID uuid, String portId) {
        requireHotplug();
        InstanceSpec current = spec(engine.require(uuid));
        current.vifs().stream().filter(v -> v.portId().equalsIgnoreCase(portId)).findFirst()
                .ifPresent(v -> metadata.rewriteNetwork(vifs.detach(current, v)));
    }

    @Override
    public void replugVifs(UUID uuid) {
        InspectContainerResponse c = engine.require(uuid);
        if (PowerStates.of(c) == PowerState.RUNNING) {
            vifs.replug(uuid, spec(c).vifs(), c.getState().getPidLong());
        }
    }

    private void requireHotplug() {
        if (!info.has(Capability.INTERFACE_HOTPLUG)) {
            throw new DriverException.CapabilityMissing(info.name(), Capability.INTERFACE_HOTPLUG);
        }
    }

    /** Declared ({@link Capability#INSTANCE_STATS}) when the engine is local or reached without TLS. */
    @Override
    public List<InstanceStats> stats() {
        if (!info.has(Capability.INSTANCE_STATS)) {
            throw new DriverException.CapabilityMissing(info.name(), Capability.INSTANCE_STATS);
        }
        return stats.sample(list());
    }

    @Override
    public HostResources resources() {
        return host.resources(listAll(false));
    }

    private InstanceSpec spec(InspectContainerResponse c) {
        var labels = c.getConfig() == null ? null : c.getConfig().getLabels();
        return vifs.current(SpecLabels.from(labels).orElseThrow(() -> new DriverException.BackendFailure(
                Engine.BACKEND, "read spec", "container " + c.getName() + " has a damaged " + SpecLabels.SPEC_LABEL
                        + " label", null)));
    }

    @Override
    public void close() {
        events.close();
        execs.close(); // before the engine: killing an exec's command asks the engine for its pid
        engine.close();
    }
}
