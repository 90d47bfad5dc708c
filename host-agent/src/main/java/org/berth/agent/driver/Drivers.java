package org.berth.agent.driver;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.berth.agent.config.AgentConfig;
import org.berth.agent.config.ConfigException;
import org.berth.agent.config.DriverSettings;
import org.berth.agent.vif.BoundVifPlugger;
import org.berth.agent.vif.VifBindings;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.DriverRegistry;
import org.berth.driver.api.ImageStore;
import org.berth.driver.api.LifecycleEvent;
import org.berth.driver.api.VifPlugger;
import org.berth.ovs.OvsVifConfig;

/**
 * The enabled drivers. A driver whose backend is down at start (or whose create fails) is reported unavailable
 * and retried with exponential backoff, forever; the agent keeps serving the others.
 */
public final class Drivers implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Drivers.class.getName());
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);

    private final Map<String, Slot> slots = new LinkedHashMap<>();
    private final ScheduledExecutorService retries;
    private final ExecutorService connector;
    private final Duration maxBackoff;
    private final LazyOvsPlugger ovs;
    private final Consumer<String> onConnected;
    private final VifBindings vifBindings = new VifBindings();
    private volatile boolean closed;

    private static final class Slot {
        final ComputeDriverProvider provider;
        final DriverContext context;
        volatile ComputeDriver driver;
        volatile String error = "not connected yet";
        volatile int attempts;
        volatile Instant nextRetry;
        volatile DriverException.StateDirUnreachable unreachable;

        Slot(ComputeDriverProvider provider, DriverContext context) {
            this.provider = provider;
            this.context = context;
        }
    }

    private Drivers(Duration maxBackoff, LazyOvsPlugger ovs, Consumer<String> onConnected) {
        this.maxBackoff = maxBackoff;
        this.ovs = ovs;
        this.onConnected = onConnected;
        this.retries = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "berth-driver-retry"));
        this.connector = Executors.newCachedThreadPool(r -> daemon(r, "berth-driver-connect"));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * Finds the providers on the class path (a provider that fails to load is logged and skipped), picks the enabled
     * ones and makes a first connection attempt for each, bounded by a timeout.
     *
     * @param events      receives every driver's lifecycle events, tagged with the driver name
     * @param onConnected called (on a driver thread) after a driver connected, e.g. to reconcile it
     * @throws ConfigException if the configuration names a driver that is not on the class path
     */
    public static Drivers start(AgentConfig config, ClassLoader loader, ImageStore images,
                                java.util.function.BiConsumer<String, LifecycleEvent> events,
                                Consumer<String> onConnected) {
        DriverRegistry registry = DriverRegistry.of(discover(loader));
        Map<String, DriverSettings> wanted = new LinkedHashMap<>();
        if (config.drivers().isEmpty()) {
            registry.names().forEach(n -> wanted.put(n, new DriverSettings(true, Map.of())));
        } else {
            config.drivers().forEach((name, s) -> {
                if (registry.find(name).isEmpty()) {
                    throw new ConfigException("drivers." + name, "no driver of this name is on the class path; found: "
                            + (registry.names().isEmpty() ? "none" : String.join(", ", registry.names())));
                }
                if (s.enabled()) {
                    wanted.put(name, s);
                }
            });
        }
        // the reaper's journal under state_dir: two agents on one machine must not share one
        LazyOvsPlugger ovs = config.ovsEnabled() ? new LazyOvsPlugger(OvsVifConfig.defaults()
                .withOvsdb(config.ovsdb()).withCreateBridges(config.ovsCreateBridges())
                .withReaperJournal(config.stateDir().resolve("vif-reaper"))) : null;
        Drivers drivers = new Drivers(config.driverRetryMaxBackoff(), ovs, onConnected);
        Optional<VifPlugger> vif = Optional.ofNullable(ovs)
                .map(o -> new BoundVifPlugger(o, o, config.vifPlugging(), drivers.vifBindings));
        wanted.forEach((name, s) -> {
            Path dir = InstancesPath.driverDir(config.instancesPath(), name, config.stateDir());
            DriverContext ctx = new DriverContext(new DriverConfig(name, s.options()), images, vif,
                    e -> events.accept(name, e), dir, config.owner());
            drivers.slots.put(name, new Slot(registry.get(name), ctx));
        });
        List<Future<?>> first = new ArrayList<>();
        drivers.slots.values().forEach(slot -> first.add(drivers.connector.submit(() -> drivers.connect(slot))));
        for (Future<?> f : first) {
            try {
                f.get(CONNECT_TIMEOUT.toMillis() + 1000, TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                // the slot says why; the retry is scheduled
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (Slot slot : drivers.slots.values()) {
            if (slot.unreachable != null) {
                // not an outage to retry: every spawn would fail on its disk, so the agent does not start
                drivers.close();
                throw InstancesPath.refusal(slot.provider.name(), config.instancesPath(), slot.unreachable);
            }
        }
        return drivers;
    }

    private static List<ComputeDriverProvider> discover(ClassLoader loader) {
        List<ComputeDriverProvider> out = new ArrayList<>();
        var it = ServiceLoader.load(ComputeDriverProvider.class, loader).stream().iterator();
        while (true) {
            ServiceLoader.Provider<ComputeDriverProvider> p;
            try {
                if (!it.hasNext()) {
                    break;
                }
                p = it.next();
            } catch (java.util.ServiceConfigurationError e) {
                LOG.log(Level.ERROR, "a compute driver could not be loaded and is skipped: " + e.getMessage());
                continue;
            }
            try {
                out.add(p.get());
            } catch (java.util.ServiceConfigurationError | RuntimeException | LinkageError e) {
                LOG.log(Level.ERROR, "compute driver " + p.type().getName() + " could not be created and is skipped: " + e);
            }
        }
        return out;
    }

    private void connect(Slot slot) {
        if (closed || slot.driver != null) {
            return;
        }
        slot.attempts++;
        String name = slot.provider.name();
        Future<ComputeDriver> f = connector.submit(() -> slot.provider.create(slot.context));
        try {
            ComputeDriver d = f.get(CONNECT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            if (closed) {
                d.close();
                return;
            }
            slot.driver = d;
            slot.error = null;
            slot.nextRetry = null;
            LOG.log(Level.INFO, "driver " + name + " connected (" + d.describe().hypervisorType() + ")");
            onConnected.accept(name);
        } catch (TimeoutException e) {
            f.cancel(true);
            failed(slot, "connecting took longer than " + CONNECT_TIMEOUT.toSeconds() + " s");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof DriverException.StateDirUnreachable u) {
                slot.unreachable = u;
            }
            failed(slot, c instanceof DriverException ? c.getMessage() : c.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void failed(Slot slot, String why) {
        slot.error = why;
        long backoffMs = Math.min(maxBackoff.toMillis(), 1000L << Math.min(20, slot.attempts - 1));
        slot.nextRetry = Instant.now().plusMillis(backoffMs);
        LOG.log(Level.WARNING, "driver " + slot.provider.name() + " unavailable (attempt " + slot.attempts + "): "
                + why + "; retrying in " + backoffMs + " ms");
        try {
            if (!closed) {
                retries.schedule(() -> connector.submit(() -> connect(slot)), backoffMs, TimeUnit.MILLISECONDS);
            }
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closing: no more retries
        }
    }

    /** How OVN bound the VIFs each instance's drivers plugged (empty without OVN or without waiting). */
    public VifBindings vifBindings() {
        return vifBindings;
    }

    /**
     * The agent's Open vSwitch plugger (empty when OVS is off): a cold migration's source unplugs a stopped
     * instance's VIFs with it so that OVN can bind the same ports on the destination.
     */
    public Optional<VifPlugger> vifPlugger() {
        return Optional.ofNullable(ovs);
    }

    /** Names of the enabled drivers, available or not. */
    public List<String> names() {
        return List.copyOf(slots.keySet());
    }

    public boolean enabled(String name) {
        return slots.containsKey(name);
    }

    /** The connected driver, if it is. */
    public Optional<ComputeDriver> find(String name) {
        Slot s = slots.get(name);
        return s == null ? Optional.empty() : Optional.ofNullable(s.driver);
    }

    /**
     * The connected driver.
     *
     * @throws DriverException.BackendUnavailable if it is enabled but not connected
     * @throws IllegalArgumentException           (field {@code driver}) if no such driver is enabled
     */
    public ComputeDriver require(String name) {
        Slot s = slots.get(name);
        if (s == null) {
            throw new IllegalArgumentException("driver: '" + name + "' is not an enabled driver; enabled: "
                    + String.join(", ", slots.keySet()));
        }
        ComputeDriver d = s.driver;
        if (d == null) {
            throw new DriverException.BackendUnavailable("driver " + name, s.error, null);
        }
        return d;
    }

    public List<DriverState> states() {
        List<DriverState> out = new ArrayList<>();
        slots.forEach((name, s) -> {
            ComputeDriver d = s.driver;
            out.add(new DriverState(name, s.provider.version(), d != null, d == null ? null : d.describe(), s.error,
                    s.attempts, s.nextRetry));
        });
        return out;
    }

    @Override
    public void close() {
        closed = true;
        retries.shutdownNow();
        connector.shutdownNow();
        for (Slot s : slots.values()) {
            ComputeDriver d = s.driver;
            s.driver = null;
            if (d != null) {
                try {
                    d.close();
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "driver " + s.provider.name() + " close failed: " + e);
                }
            }
        }
        if (ovs != null) {
            try {
                ovs.close();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "ovs close failed: " + e);
            }
        }
    }
}
