package org.berth.agent;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.berth.agent.api.ApiSecurity;
import org.berth.agent.api.EventStream;
import org.berth.agent.api.HttpServer;
import org.berth.agent.api.Routes;
import org.berth.agent.api.TokenAuth;
import org.berth.agent.capacity.CapacityService;
import org.berth.agent.capacity.HostStatus;
import org.berth.agent.config.AgentConfig;
import org.berth.agent.console.ConsoleService;
import org.berth.agent.driver.Drivers;
import org.berth.agent.placement.PlacementReporter;
import org.berth.agent.reconcile.Reconciler;
import org.berth.agent.stats.StatsSampler;
import org.berth.agent.store.Store;
import org.berth.agent.task.InstanceService;
import org.berth.agent.task.OperationStats;
import org.berth.agent.task.TaskLocks;
import org.berth.agent.tls.ServerTls;
import org.berth.driver.api.LifecycleEvent;
import org.berth.image.ManifestImageStore;

/** The wired agent: store, images, drivers, capacity, tasks, reconcile and the REST API. */
public final class Agent implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Agent.class.getName());

    private final AgentConfig config;
    private final Store store;
    private final ManifestImageStore images;
    private final ThreadPoolExecutor tasks;
    private final ThreadPoolExecutor api;
    private final ThreadPoolExecutor events;
    private final TaskLocks locks = new TaskLocks();
    private final Drivers drivers;
    private final Reconciler reconciler;
    private final HttpServer server;
    private final ConsoleService consoles;
    private final TokenAuth auth;
    /** null when the API is plain HTTP. */
    private final ServerTls tls;
    private volatile InstanceService instances;
    private volatile Reconciler reconcilerRef;
    private volatile PlacementReporter placement;
    private final StatsSampler sampler;

    private Agent(AgentConfig config, ClassLoader loader) {
        this.config = config;
        try {
            Files.createDirectories(config.stateDir());
        } catch (IOException e) {
            throw new UncheckedIOException("state_dir: cannot create " + config.stateDir(), e);
        }
        this.auth = TokenAuth.loadOrCreate(config.stateDir());
        // first: a certificate that does not load stops the start before anything else is taken
        this.tls = config.tls().enabled() ? ServerTls.start(config.tls()) : null;
        try {
            this.store = Store.open(config.stateDir().resolve("berth.db"));
        } catch (RuntimeException e) {
            if (tls != null) {
                tls.close();
            }
            throw e;
        }
        this.tasks = pool("berth-task", config.taskWorkers(), 1024);
        this.api = pool("berth-api", config.apiWorkers(), 1024);
        this.events = pool("berth-event", 1, 4096);
        if (tls == null && !org.berth.agent.config.ConfigLoader.isLoopback(config.listenAddress())) {
            LOG.log(Level.WARNING, "allow_insecure_http: the API on " + config.listenAddress() + " is plain HTTP: "
                    + "the bearer token crosses the network in clear text; set tls.cert_file and tls.key_file");
        }
        Drivers started = null;
        Reconciler rec = null;
        StatsSampler stats = null;
        try {
            this.images = ManifestImageStore.open(config.imageDirs(), config.stateDir().resolve("images"));
            started = Drivers.start(config, loader, images, this::onEvent, name -> {
                Reconciler r = reconcilerRef;
                if (r != null) {
                    r.requestSweep();
                }
                PlacementReporter p = placement;
                if (p != null) {
                    p.requestSync(); // its driver trait follows
                }
            });
            this.drivers = started;
            CapacityService capacity = new CapacityService(config, drivers, store, HostStatus.load(config.stateDir()));
            OperationStats ops = new OperationStats();
            this.instances = new InstanceService(store, drivers, capacity, images, tasks, locks, ops);
            rec = new Reconciler(config, store, drivers, locks, capacity, images::refresh);
            rec.onInterruptedTask(instances::finishInterrupted);
            this.reconciler = rec;
            this.reconcilerRef = rec;
            if (config.placement().enabled()) {
                rec.expectEvacuatedCheck();
            }
            placement = PlacementReporter.start(config, capacity, drivers, store, rec::settling);
            if (placement != null) {
                rec.onStartCheckEvacuated(placement.evacuatedCheck(), placement::changed);
            }
            this.consoles = new ConsoleService(config.console(), store, instances, drivers);
            stats = new StatsSampler(config.instanceStatsInterval(), drivers, store);
            this.sampler = stats;
            Routes routes = new Routes(config, store, drivers, capacity, images, instances, ops, rec::sweeps, placement,
                    auth, new ApiSecurity(tls != null, tls != null && tls.clientCertificatesRequired()), consoles,
                    stats);
            EventStream stream = new EventStream();
            PlacementReporter report = placement;
            store.onEvent(report == null ? stream::publish : e -> {
                stream.publish(e);
                report.changed(e.uuid());
            });
            this.server = HttpServer.start(config.listenAddress(), config.listenPort(), config.maxRequestBodyBytes(),
                    routes, auth, api, stream, tls, config.idleTimeout(), config.maxConnections(), consoles);
        } catch (RuntimeException e) {
            // a half-started agent releases what it took (tests start many agents in one JVM)
            if (rec != null) {
                rec.close();
            }
            if (stats != null) {
                stats.close();
            }
            if (placement != null) {
                placement.close();
            }
            if (started != null) {
                started.close();
            }
            tasks.shutdownNow();
            api.shutdownNow();
            events.shutdownNow();
            store.close();
            if (tls != null) {
                tls.close();
            }
            throw e;
        }
        reconciler.start();
        sampler.start();
        LOG.log(Level.INFO, "berth agent listening on " + (tls == null ? "http" : "https") + "://"
                + config.listenAddress() + ":" + server.port()
                + (tls == null ? "" : " (TLS " + tls.describe() + ")")
                + " (state " + config.stateDir().toAbsolutePath() + ", token in " + auth.file() + ", drivers "
                + drivers.names() + ")");
    }

    /**
     * Re-reads the TLS certificate, key and client CA (SIGHUP): new connections get them, open ones keep theirs;
     * false if TLS is off or the files do not load (the previous ones stay in use).
     */
    public boolean reloadTls() {
        if (tls == null) {
            LOG.log(Level.INFO, "SIGHUP: TLS is off, nothing to reload");
            return false;
        }
        return tls.reload("SIGHUP");
    }

    /** Starts everything; the API answers when this returns. */
    public static Agent start(AgentConfig config) {
        return start(config, Agent.class.getClassLoader());
    }

    public static Agent start(AgentConfig config, ClassLoader loader) {
        return new Agent(config, loader);
    }

    private void onEvent(String driver, LifecycleEvent e) {
        // drivers call this from their event threads: never block them
        try {
            events.execute(() -> {
                InstanceService s = instances;
                if (s != null) {
                    s.onLifecycleEvent(driver, e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException full) {
            LOG.log(Level.WARNING, "instance " + e.uuid() + ": lifecycle event " + e.transition()
                    + " dropped (queue full); the next power-state sync catches up");
        }
    }

    private static ThreadPoolExecutor pool(String name, int threads, int queue) {
        AtomicInteger n = new AtomicInteger();
        return new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS, new ArrayBlockingQueue<>(queue), r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    public int port() {
        return server.port();
    }

    public AgentConfig config() {
        return config;
    }

    /** The interactive sessions (tests look at how many are open). */
    public ConsoleService consoles() {
        return consoles;
    }

    public Drivers drivers() {
        return drivers;
    }

    public Store store() {
        return store;
    }

    public Reconciler reconciler() {
        return reconciler;
    }

    /** The instance stats sampler (tests run a sample now with it). */
    public StatsSampler stats() {
        return sampler;
    }

    /** The Placement report, null when placement.enabled is false. */
    public PlacementReporter placement() {
        return placement;
    }

    public java.nio.file.Path tokenFile() {
        return auth.file();
    }

    /**
     * Stops accepting requests, lets running tasks finish within {@code shutdown_timeout} (a task still running
     * then stays journaled in the store as its task_state and is finished or rolled back by the next start's
     * reconcile), then closes drivers and the store.
     */
    @Override
    public void close() {
        LOG.log(Level.INFO, "berth agent stopping");
        server.stopAccepting();
        consoles.close();
        reconciler.close();
        sampler.close();
        api.shutdown();
        tasks.shutdown();
        events.shutdown();
        Duration bound = config.shutdownTimeout();
        try {
            if (!tasks.awaitTermination(bound.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.log(Level.WARNING, "tasks still running after shutdown_timeout " + bound.toSeconds()
                        + " s; they stay journaled and are reconciled at the next start");
                tasks.shutdownNow();
            }
            api.awaitTermination(2, TimeUnit.SECONDS);
            events.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        server.close();
        if (tls != null) {
            tls.close();
        }
        if (placement != null) {
            placement.close();
        }
        drivers.close();
        store.close();
        LOG.log(Level.INFO, "berth agent stopped");
    }
}
