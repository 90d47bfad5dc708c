package org.berth.conformance.reference;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.berth.conformance.host.HostCommand;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.CpuInfo;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.DriverInfo;
import org.berth.driver.api.HostResources;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageFormat;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.LifecycleEvent;
import org.berth.driver.api.LifecycleEvent.Transition;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;
import org.berth.driver.api.VifSpec;

/**
 * A small in-memory driver that keeps the whole contract: the kit's proof before real backends exist. Its only
 * host artefacts are an instance directory with a disk and a console file, so the leak check has something real
 * to find. {@link Faults} break it on purpose for the kit's own tests.
 */
final class ReferenceDriver implements ComputeDriver {
    /** Ways to break the contract on purpose. */
    record Faults(boolean leakInstanceDir, boolean pauseReportsRunning, boolean leakVethOnFailedSpawn) {
        static final Faults NONE = new Faults(false, false, false);
    }

    private static final class Instance {
        InstanceSpec spec;
        PowerState state;

        Instance(InstanceSpec spec, PowerState state) {
            this.spec = spec;
            this.state = state;
        }
    }

    private final String name;
    private final DriverContext ctx;
    private final Faults faults;
    private final Map<UUID, Instance> instances = new HashMap<>();

    ReferenceDriver(String name, DriverContext ctx, Faults faults) {
        this.name = name;
        this.ctx = ctx;
        this.faults = faults;
    }

    /**
     * Every capability but the interactive ones and instance stats: an in-memory driver has no process to talk to
     * and nothing that uses a CPU (the kit checks that it says so with CapabilityMissing).
     */
    @Override
    public DriverInfo describe() {
        return new DriverInfo(name, "1.0", "reference",
                EnumSet.complementOf(EnumSet.of(Capability.CONSOLE, Capability.EXEC, Capability.INSTANCE_STATS)),
                List.of(new ImageFormat(DiskFormat.QCOW2, ContainerFormat.BARE)));
    }

    private Path dir(UUID uuid) {
        return ctx.stateDir().resolve(uuid.toString());
    }

    @Override
    public synchronized InstanceInfo spawn(InstanceSpec spec) {
        if (instances.containsKey(spec.uuid())) {
            throw new DriverException.InstanceExists(spec.uuid());
        }
        Image image = ctx.images().get(spec.imageId());
        if (!describe().accepts(image)) {
            throw new DriverException.ImageInvalid(image.id(), "format " + image.diskFormat().glanceName() + "/"
                    + image.containerFormat().glanceName() + " is not one this driver spawns from");
        }
        Path dir = dir(spec.uuid());
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("disk"), "disk of " + spec.uuid() + " from image " + image.id() + "\n");
            Files.writeString(dir.resolve("console.log"), "");
            if (faults.leakVethOnFailedSpawn()) {
                // a real host artefact, made the way a container driver makes one, and never removed on failure
                spec.vifs().forEach(v -> HostCommand.run(Duration.ofSeconds(10), "ip", "link", "add",
                        "tap" + v.portId().substring(0, 11), "type", "veth", "peer", "name", "ns" + v.portId().substring(0, 11)));
            }
            instances.put(spec.uuid(), new Instance(spec, PowerState.SHUTDOWN));
            if (spec.powerOn()) {
                start(instances.get(spec.uuid()));
            }
        } catch (IOException | RuntimeException e) {
            instances.remove(spec.uuid());
            deleteTree(dir);
            if (e instanceof DriverException de) {
                throw de;
            }
            throw new DriverException.BackendFailure(name, "spawn", e.toString(), e);
        }
        return info(spec.uuid());
    }

    private void start(Instance i) {
        List<VifSpec> plugged = new ArrayList<>();
        try {
            for (VifSpec vif : i.spec.vifs()) {
                ctx.vifPlugger().orElseThrow().plugTap(i.spec.uuid(), vif);
                plugged.add(vif);
            }
            plugged.forEach(vif -> ctx.vifPlugger().orElseThrow().awaitAttached(i.spec.uuid(), vif));
        } catch (RuntimeException e) {
            for (VifSpec vif : plugged) {
                try {
                    ctx.vifPlugger().orElseThrow().unplug(i.spec.uuid(), vif);
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        i.state = PowerState.RUNNING;
        appendConsole(i.spec.uuid(), "REFERENCE-BOOTED " + Instant.now() + "\n");
        emit(i, Transition.STARTED);
    }

    private void emit(Instance i, Transition t) {
        ctx.events().publish(new LifecycleEvent(i.spec.uuid(), t, Instant.now()));
    }

    private void appendConsole(UUID uuid, String line) {
        try {
            Files.writeString(dir(uuid).resolve("console.log"), line, StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Instance get(UUID uuid) {
        Instance i = instances.get(uuid);
        if (i == null) {
            throw new DriverException.InstanceNotFound(uuid);
        }
        return i;
    }

    @Override
    public synchronized void destroy(UUID uuid) {
        Instance i = instances.remove(uuid);
        if (i != null) {
            stop(i);
            ctx.vifPlugger().ifPresent(p -> i.spec.vifs().forEach(v -> p.unplug(uuid, v)));
        }
        if (!faults.leakInstanceDir()) {
            deleteTree(dir(uuid));
        }
    }

    @Override
    public synchronized void powerOff(UUID uuid, Duration timeout) {
        stop(get(uuid));
    }

    /** SHUTDOWN, with the STOPPED event LifecycleEvent documents when it was not already off. */
    private void stop(Instance i) {
        if (i.state != PowerState.SHUTDOWN) {
            i.state = PowerState.SHUTDOWN;
            emit(i, Transition.STOPPED);
        }
    }

    @Override
    public synchronized void powerOn(UUID uuid) {
        Instance i = get(uuid);
        switch (i.state) {
            case RUNNING -> { }
            case SHUTDOWN, CRASHED -> start(i);
            default -> throw new DriverException.InvalidInstanceState(uuid, "power on", i.state);
        }
    }

    @Override
    public synchronized void reboot(UUID uuid, RebootType type) {
        Instance i = get(uuid);
        if (type == RebootType.SOFT && i.state != PowerState.RUNNING) {
            throw new DriverException.InvalidInstanceState(uuid, "soft reboot", i.state);
        }
        stop(i);
        start(i);
    }

    @Override
    public synchronized void pause(UUID uuid) {
        Instance i = get(uuid);
        switch (i.state) {
            case PAUSED -> { }
            case RUNNING -> {
                i.state = faults.pauseReportsRunning() ? PowerState.RUNNING : PowerState.PAUSED;
                emit(i, Transition.PAUSED);
            }
            default -> throw new DriverException.InvalidInstanceState(uuid, "pause", i.state);
        }
    }

    @Override
    public synchronized void unpause(UUID uuid) {
        Instance i = get(uuid);
        if (i.state != PowerState.PAUSED) {
            throw new DriverException.InvalidInstanceState(uuid, "unpause", i.state);
        }
        i.state = PowerState.RUNNING;
        emit(i, Transition.RESUMED);
    }

    @Override
    public synchronized void suspend(UUID uuid) {
        Instance i = get(uuid);
        if (i.state != PowerState.RUNNING && i.state != PowerState.PAUSED) {
            throw new DriverException.InvalidInstanceState(uuid, "suspend", i.state);
        }
        i.state = PowerState.SUSPENDED;
        emit(i, Transition.SUSPENDED);
    }

    @Override
    public synchronized void resume(UUID uuid) {
        Instance i = get(uuid);
        if (i.state != PowerState.SUSPENDED) {
            throw new DriverException.InvalidInstanceState(uuid, "resume", i.state);
        }
        i.state = PowerState.RUNNING;
        emit(i, Transition.RESUMED);
    }

    @Override
    public synchronized InstanceInfo info(UUID uuid) {
        Instance i = get(uuid);
        return new InstanceInfo(uuid, i.state, i.spec, InstanceSpec.backendName(uuid));
    }

    @Override
    public synchronized List<InstanceInfo> list() {
        return instances.keySet().stream().map(this::info).toList();
    }

    @Override
    public synchronized byte[] consoleLog(UUID uuid, int maxBytes) {
        if (maxBytes < 1 || maxBytes > 1024 * 1024) {
            throw new IllegalArgumentException("max_bytes: " + maxBytes + " must be between 1 and 1048576");
        }
        get(uuid);
        try {
            byte[] all = Files.readAllBytes(dir(uuid).resolve("console.log"));
            return Arrays.copyOfRange(all, Math.max(0, all.length - maxBytes), all.length);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public synchronized Image snapshot(UUID uuid, String imageName) {
        Instance i = get(uuid);
        try {
            Path tmp = Files.createTempFile(ctx.stateDir(), "snapshot", ".qcow2");
            Files.copy(ctx.images().file(i.spec.imageId()), tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return ctx.images().add(imageName, DiskFormat.QCOW2, ContainerFormat.BARE, tmp, Map.of());
        } catch (IOException e) {
            throw new DriverException.BackendFailure(name, "snapshot", e.toString(), e);
        }
    }

    @Override
    public synchronized void attachInterface(UUID uuid, VifSpec vif) {
        Instance i = get(uuid);
        if (i.state != PowerState.RUNNING) {
            throw new DriverException.InvalidInstanceState(uuid, "attach interface", i.state);
        }
        ctx.vifPlugger().orElseThrow().plugTap(uuid, vif);
        try {
            ctx.vifPlugger().orElseThrow().awaitAttached(uuid, vif);
        } catch (RuntimeException e) {
            ctx.vifPlugger().orElseThrow().unplug(uuid, vif);
            throw e;
        }
        var vifs = new ArrayList<>(i.spec.vifs());
        vifs.add(vif);
        i.spec = i.spec.withVifs(vifs);
    }

    @Override
    public synchronized void detachInterface(UUID uuid, String portId) {
        Instance i = get(uuid);
        i.spec.vifs().stream().filter(v -> v.portId().equals(portId)).findFirst().ifPresent(v -> {
            ctx.vifPlugger().ifPresent(p -> p.unplug(uuid, v));
            i.spec = i.spec.withVifs(i.spec.vifs().stream().filter(x -> x != v).toList());
        });
    }

    @Override
    public synchronized HostResources resources() {
        int vcpus = 0;
        long mem = 0;
        long disk = 0;
        int running = 0;
        for (Instance i : instances.values()) {
            vcpus += i.spec.flavor().vcpus();
            mem += i.spec.flavor().memoryMb();
            disk += i.spec.flavor().rootGb();
            running += i.state == PowerState.RUNNING ? 1 : 0;
        }
        return new HostResources(Runtime.getRuntime().availableProcessors(), vcpus, 65536, mem, 1000, disk,
                "reference", 1_000_000, "reference-host", new CpuInfo("x86_64", "reference", "none", 1, 1, 1), running);
    }

    @Override
    public void close() {
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
