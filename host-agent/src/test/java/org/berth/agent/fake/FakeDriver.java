package org.berth.agent.fake;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.berth.agent.store.SpecJson;
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
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.LifecycleEvent;
import org.berth.driver.api.LifecycleEvent.Transition;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;
import org.berth.driver.api.VifSpec;

/**
 * An in-memory driver (after the conformance kit's ReferenceDriver) whose instances persist in its state dir, so a
 * restarted agent finds them, as a real backend would. Options: {@code spawn_delay_ms}, {@code memory_mb},
 * {@code vcpus}, {@code local_gb}, {@code plug_vifs} (true: a spawn plugs taps through the context's VIF plugger and
 * waits for them as the real drivers do, unplugging them when that fails; a destroy unplugs them), {@code stats}
 * ({@code false}: no {@link Capability#INSTANCE_STATS}). Its {@link #stats()} figures grow by a fixed step per call
 * ({@link #statsOf}), so a test knows what the agent must show.
 */
public final class FakeDriver implements ComputeDriver {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final DriverContext ctx;
    private final long spawnDelayMs;
    private final boolean plugVifs;
    private final Map<UUID, Instance> instances = new LinkedHashMap<>();
    private final Path file;
    /** Instances whose VIFs {@link #replugVifs} was asked to plug again, in call order. */
    public final List<UUID> replugged = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The thread of every {@link #stats()} call, in order: tests check none was an API thread. */
    public final List<String> statsThreads = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** resources() calls so far: tests check a scrape of /metrics makes none. */
    public final java.util.concurrent.atomic.AtomicInteger resourcesCalls = new java.util.concurrent.atomic.AtomicInteger();
    /** Test hook: when set, {@link #stats()} throws this. */
    public volatile RuntimeException statsFailure;
    /** Test hook: {@link #stats()} sleeps this long first (a backend that hangs). */
    public volatile long statsDelayMs;
    private final boolean stats;

    private static final class Instance {
        final InstanceSpec spec;
        PowerState state;
        final StringBuilder console = new StringBuilder();
        /** stats() calls that reported this instance. */
        long samples;

        Instance(InstanceSpec spec, PowerState state) {
            this.spec = spec;
            this.state = state;
        }
    }

    FakeDriver(DriverContext ctx) {
        this.ctx = ctx;
        this.spawnDelayMs = ctx.config().integer("spawn_delay_ms", 0, 0, 60_000);
        this.plugVifs = ctx.config().string("plug_vifs", "false").equals("true");
        this.stats = !ctx.config().string("stats", "true").equals("false");
        this.file = ctx.stateDir().resolve("instances.json");
        load();
    }

    @Override
    public DriverInfo describe() {
        EnumSet<Capability> caps = EnumSet.allOf(Capability.class);
        if (!stats) {
            caps.remove(Capability.INSTANCE_STATS);
        }
        return new DriverInfo("fake", "1.0", "fake", caps,
                List.of(new ImageFormat(DiskFormat.QCOW2, ContainerFormat.BARE),
                        new ImageFormat(DiskFormat.RAW, ContainerFormat.DOCKER)));
    }

    @Override
    public InstanceInfo spawn(InstanceSpec spec) {
        Image image = ctx.images().get(spec.imageId());
        pause("spawn", spawnDelayMs);
        plugAll(spec);
        synchronized (this) {
            if (instances.containsKey(spec.uuid())) {
                throw new DriverException.InstanceExists(spec.uuid());
            }
            Instance i = new Instance(spec, PowerState.SHUTDOWN);
            instances.put(spec.uuid(), i);
            if (spec.powerOn()) {
                start(i);
            }
            save();
            i.console.append("FAKE-BOOTED from ").append(image.name()).append('\n');
            return info(spec.uuid());
        }
    }

    /** A slow backend: sleeps {@code ms}; an interrupt ends the operation as a timeout, as a real driver's would. */
    private static void pause(String operation, long ms) {
        if (ms <= 0) {
            return;
        }
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException.OperationTimedOut(operation, Duration.ofMillis(ms), "interrupted");
        }
    }

    /** As the real drivers: plug, then wait for every VIF; on failure nothing stays plugged. */
    private void plugAll(InstanceSpec spec) {
        if (!plugVifs || ctx.vifPlugger().isEmpty()) {
            return;
        }
        var plugger = ctx.vifPlugger().get();
        try {
            spec.vifs().forEach(v -> plugger.plugTap(spec.uuid(), v));
            spec.vifs().forEach(v -> plugger.awaitAttached(spec.uuid(), v));
        } catch (RuntimeException e) {
            spec.vifs().forEach(v -> plugger.unplug(spec.uuid(), v));
            throw e;
        }
    }

    private void start(Instance i) {
        i.state = PowerState.RUNNING;
        emit(i, Transition.STARTED);
    }

    private void emit(Instance i, Transition t) {
        ctx.events().publish(new LifecycleEvent(i.spec.uuid(), t, Instant.now()));
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
        Instance gone = instances.remove(uuid);
        if (gone != null && plugVifs) {
            ctx.vifPlugger().ifPresent(p -> gone.spec.vifs().forEach(v -> p.unplug(uuid, v)));
        }
        save();
    }

    @Override
    public synchronized void replugVifs(UUID uuid) {
        get(uuid);
        replugged.add(uuid);
    }

    @Override
    public synchronized void powerOff(UUID uuid, Duration timeout) {
        Instance i = get(uuid);
        if (i.state != PowerState.SHUTDOWN) {
            i.state = PowerState.SHUTDOWN;
            emit(i, Transition.STOPPED);
            save();
        }
    }

    @Override
    public synchronized void powerOn(UUID uuid) {
        Instance i = get(uuid);
        if (i.state != PowerState.RUNNING) {
            start(i);
            save();
        }
    }

    @Override
    public synchronized void reboot(UUID uuid, RebootType type) {
        Instance i = get(uuid);
        if (type == RebootType.SOFT && i.state != PowerState.RUNNING) {
            throw new DriverException.InvalidInstanceState(uuid, "soft reboot", i.state);
        }
        start(i);
        i.console.append("FAKE-REBOOTED ").append(type).append('\n');
        save();
    }

    @Override
    public synchronized void pause(UUID uuid) {
        Instance i = get(uuid);
        if (i.state == PowerState.RUNNING) {
            i.state = PowerState.PAUSED;
            emit(i, Transition.PAUSED);
            save();
        } else if (i.state != PowerState.PAUSED) {
            throw new DriverException.InvalidInstanceState(uuid, "pause", i.state);
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
        save();
    }

    @Override
    public synchronized void suspend(UUID uuid) {
        Instance i = get(uuid);
        if (i.state != PowerState.RUNNING && i.state != PowerState.PAUSED) {
            throw new DriverException.InvalidInstanceState(uuid, "suspend", i.state);
        }
        i.state = PowerState.SUSPENDED;
        emit(i, Transition.SUSPENDED);
        save();
    }

    @Override
    public synchronized void resume(UUID uuid) {
        Instance i = get(uuid);
        if (i.state != PowerState.SUSPENDED) {
            throw new DriverException.InvalidInstanceState(uuid, "resume", i.state);
        }
        i.state = PowerState.RUNNING;
        emit(i, Transition.RESUMED);
        save();
    }

    @Override
    public synchronized InstanceInfo info(UUID uuid) {
        Instance i = get(uuid);
        return new InstanceInfo(uuid, i.state, i.spec, "fake-" + uuid);
    }

    @Override
    public synchronized List<InstanceInfo> list() {
        return instances.keySet().stream().map(this::info).toList();
    }

    /** Every stream the fake opened, in order: tests look at what the agent did with them. */
    public final List<EchoStream> streams = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Override
    public synchronized org.berth.driver.api.InstanceStream openConsole(UUID uuid) {
        Instance i = get(uuid);
        if (i.state != PowerState.RUNNING) {
            throw new DriverException.InvalidInstanceState(uuid, "open console", i.state);
        }
        EchoStream s = new EchoStream(null);
        streams.add(s);
        return s;
    }

    /** Echoes its input; exits at the end of it with the status in {@code FAKE_EXIT} (default 0). */
    @Override
    public synchronized org.berth.driver.api.InstanceStream exec(UUID uuid, org.berth.driver.api.ExecSpec spec) {
        Instance i = get(uuid);
        if (i.state != PowerState.RUNNING) {
            throw new DriverException.InvalidInstanceState(uuid, "exec", i.state);
        }
        EchoStream s = new EchoStream(Integer.parseInt(spec.env().getOrDefault("FAKE_EXIT", "0")));
        streams.add(s);
        return s;
    }

    @Override
    public synchronized byte[] consoleLog(UUID uuid, int maxBytes) {
        byte[] all = get(uuid).console.toString().getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.copyOfRange(all, Math.max(0, all.length - maxBytes), all.length);
    }

    @Override
    public synchronized Image snapshot(UUID uuid, String imageName) {
        Instance i = get(uuid);
        try {
            Path tmp = Files.createTempFile(ctx.stateDir(), "snapshot", ".qcow2");
            Files.copy(ctx.images().file(i.spec.imageId()), tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return ctx.images().add(imageName, DiskFormat.QCOW2, ContainerFormat.BARE, tmp, Map.of());
        } catch (IOException e) {
            throw new DriverException.BackendFailure("fake", "snapshot", e.toString(), e);
        }
    }

    @Override
    public synchronized void attachInterface(UUID uuid, VifSpec vif) {
        Instance i = get(uuid);
        if (i.state != PowerState.RUNNING) {
            throw new DriverException.InvalidInstanceState(uuid, "attach interface", i.state);
        }
        List<VifSpec> vifs = new ArrayList<>(i.spec.vifs());
        vifs.add(vif);
        InstanceSpec spec = i.spec.withVifs(vifs);
        plugAll(spec.withVifs(List.of(vif)));
        replace(i, spec);
    }

    @Override
    public synchronized void detachInterface(UUID uuid, String portId) {
        Instance i = get(uuid);
        if (plugVifs) {
            ctx.vifPlugger().ifPresent(p -> i.spec.vifs().stream().filter(v -> v.portId().equals(portId))
                    .forEach(v -> p.unplug(uuid, v)));
        }
        replace(i, i.spec.withVifs(i.spec.vifs().stream().filter(v -> !v.portId().equals(portId)).toList()));
    }

    private void replace(Instance old, InstanceSpec spec) {
        Instance n = new Instance(spec, old.state);
        n.console.append(old.console);
        n.samples = old.samples; // counters never go backwards while the backend object lives
        instances.put(spec.uuid(), n);
        save();
    }

    @Override
    public synchronized HostResources resources() {
        resourcesCalls.incrementAndGet();
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
        return new HostResources(ctx.config().integer("vcpus", 8, 1, 1024), vcpus,
                ctx.config().integer("memory_mb", 65536, 1, Integer.MAX_VALUE), mem,
                ctx.config().integer("local_gb", 1000, 0, Integer.MAX_VALUE), disk, "fake", 1_000_000, "fake-host",
                new CpuInfo("x86_64", "fake", "none", 1, 1, 1), running);
    }

    @Override
    public void close() {
    }

    private void save() {
        ArrayNode a = JSON.createArrayNode();
        instances.values().forEach(i -> a.addObject().put("state", i.state.name()).put("spec", SpecJson.writeString(i.spec)));
        try {
            Files.writeString(file, a.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void load() {
        if (!Files.exists(file)) {
            return;
        }
        try {
            for (JsonNode n : JSON.readTree(file.toFile())) {
                InstanceSpec spec = SpecJson.readString(n.get("spec").asText());
                instances.put(spec.uuid(), new Instance(spec, PowerState.valueOf(n.get("state").asText())));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Every instance's counters, each call one step further ({@link #statsOf}); figures no real backend has
     * either are {@link InstanceStats#UNKNOWN}, so the agent's omission of unknown figures is tested too.
     */
    @Override
    public List<InstanceStats> stats() {
        if (!stats) {
            return ComputeDriver.super.stats();
        }
        statsThreads.add(Thread.currentThread().getName());
        pause("stats", statsDelayMs);
        RuntimeException failure = statsFailure;
        if (failure != null) {
            throw failure;
        }
        synchronized (this) {
            List<InstanceStats> out = new ArrayList<>();
            for (Instance i : instances.values()) {
                out.add(statsOf(i.spec, i.state, ++i.samples));
            }
            return out;
        }
    }

    /**
     * The figures of the {@code n}th stats() call that reported the instance: per call 1 s of CPU per vCPU, 1000 B
     * (10 packets) received and 2000 B (20 packets) sent per VIF, 4096 B read (1 request) and 8192 B written (2)
     * on disk vda; memory used half the flavor's, resident a quarter, limit all of it. Unknown: rx errors, tx drops,
     * the disk's allocation.
     */
    public static InstanceStats statsOf(InstanceSpec spec, PowerState state, long n) {
        int vcpus = spec.flavor().vcpus();
        List<Long> perVcpu = new ArrayList<>();
        for (int c = 0; c < vcpus; c++) {
            perVcpu.add(n * 1_000_000_000L);
        }
        long mem = (long) spec.flavor().memoryMb() << 20;
        List<InstanceStats.VifStats> vifs = new ArrayList<>();
        for (int v = 0; v < spec.vifs().size(); v++) {
            vifs.add(new InstanceStats.VifStats(spec.vifs().get(v).portId(), "tapfake" + v, n * 1000, n * 10, 0,
                    InstanceStats.UNKNOWN, n * 2000, n * 20, InstanceStats.UNKNOWN, 0));
        }
        return new InstanceStats(spec.uuid(), state, n * vcpus * 1_000_000_000L, vcpus, perVcpu,
                new InstanceStats.Memory(mem / 2, mem / 4, mem), vifs,
                List.of(new InstanceStats.DiskStats("vda", n * 4096, n, n * 8192, n * 2,
                        (long) spec.flavor().rootGb() << 30, InstanceStats.UNKNOWN)));
    }

    /** Test hook: instance UUIDs in the "backend". */
    public synchronized List<UUID> uuids() {
        return new ArrayList<>(instances.keySet());
    }
}
