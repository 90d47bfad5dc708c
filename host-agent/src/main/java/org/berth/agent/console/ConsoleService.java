package org.berth.agent.console;

import java.time.Clock;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.berth.agent.config.ConsoleConfig;
import org.berth.agent.driver.Drivers;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.Store;
import org.berth.agent.task.InstanceService;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.ExecSpec;
import org.berth.driver.api.InstanceStream;

/**
 * Interactive sessions: issues one-use tickets, admits sessions within {@code console.*} limits (one console per
 * instance: a second gets 409), opens the driver's stream, and records every session as instance events (who, when,
 * how long, bytes each way; never what was typed). The WebSocket side is {@link SessionHandler}.
 */
public final class ConsoleService implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ConsoleService.class.getName());

    private final ConsoleConfig config;
    private final Store store;
    private final InstanceService instances;
    private final Drivers drivers;
    private final Tickets tickets;
    /**
     * Where sessions are closed (a kill, an inspect, an RPC: never on the event loop), four at a time: 50 clients
     * dropped at once do not become 50 concurrent backend calls.
     */
    private final ExecutorService ends = Executors.newFixedThreadPool(4,
            Thread.ofVirtual().name("berth-session-end-", 0).factory());
    private final Set<Session> open = ConcurrentHashMap.newKeySet();
    // admission state, guarded by this
    private final Map<UUID, Integer> perInstance = new HashMap<>();
    private final Set<UUID> consoles = new HashSet<>();
    private int total;
    private volatile boolean closed;
    /** Bumped by {@link #closeAll}: a session authorised before it must not open after it. */
    private final AtomicLong epoch = new AtomicLong();

    public ConsoleService(ConsoleConfig config, Store store, InstanceService instances, Drivers drivers) {
        this.config = config;
        this.store = store;
        this.instances = instances;
        this.drivers = drivers;
        this.tickets = new Tickets(config.ticketTtl(), Clock.systemUTC());
    }

    public ConsoleConfig config() {
        return config;
    }

    /**
     * A ticket for one session on an existing instance whose driver has the capability (404 and 501 come now, not
     * at the upgrade); the power state is checked when the session opens.
     */
    public Ticket issue(UUID uuid, SessionKind kind, Optional<ExecSpec> exec, String who) {
        capableDriver(instances.get(uuid), kind);
        return tickets.issue(uuid, kind, exec, who);
    }

    /** The ticket if it is valid for this instance and kind; spent either way. */
    public Optional<Ticket> redeem(String ticket, UUID uuid, SessionKind kind) {
        return tickets.redeem(ticket, uuid, kind);
    }

    /**
     * Admits and opens a session (blocking: the driver's call; run it off the event loop). On any failure nothing
     * stays admitted or open.
     *
     * @throws SessionRefused   over a limit (429), a console already in use (409)
     * @throws DriverException  unknown instance (404), capability missing (501), not RUNNING (409), backend errors
     */
    public Session open(UUID uuid, SessionKind kind, Optional<ExecSpec> exec, String who, String requestId,
                        long authorisedIn) {
        InstanceRecord r = instances.get(uuid);
        ComputeDriver driver = capableDriver(r, kind);
        admit(uuid, kind);
        InstanceStream stream;
        try {
            stream = kind == SessionKind.CONSOLE ? driver.openConsole(uuid)
                    : driver.exec(uuid, exec.orElseThrow(() -> new IllegalArgumentException(
                            "exec.command: an exec session needs its command (POST …/exec first)")));
        } catch (RuntimeException e) {
            release(uuid, kind);
            throw e;
        }
        Session s = new Session(this, uuid, kind, exec, stream, who, requestId);
        open.add(s);
        try {
            store.addEvent(uuid, requestId, kind.word() + ".opened", s.describeStart());
        } catch (RuntimeException e) {
            s.finish("the store refused its event: " + e.getMessage());
            throw e;
        }
        if (closed || epoch.get() != authorisedIn) {
            // closeAll ran while the driver opened the stream: it could not see this session yet
            String why = closed ? "the agent is stopping" : "the API token was rotated";
            s.finish(why + " while the session opened");
            throw closed ? new SessionRefused(503, "agent", "stopping", why)
                    : new SessionRefused(401, "Authorization", "rotated", why + " while the session opened; open it "
                    + "again with the new token");
        }
        return s;
    }

    /** The current epoch, read before a session's credentials are checked and passed to {@link #open}. */
    public long epoch() {
        return epoch.get();
    }

    /** Called once by a session when it ends: frees its slot and records it. */
    void ended(Session s, String summary) {
        open.remove(s);
        release(s.uuid(), s.kind());
        try {
            store.addEvent(s.uuid(), s.requestId(), s.kind().word() + ".closed", summary);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot record the end of a " + s.kind().word() + " session of "
                    + s.uuid() + ": " + e);
        }
    }

    /** Sessions open now. */
    public int openSessions() {
        return open.size();
    }

    /**
     * Ends every open session with {@code reason} (token rotated, agent stopping) and voids the outstanding tickets;
     * a session being opened meanwhile is refused when it joins ({@link #open}).
     */
    public void closeAll(String reason) {
        epoch.incrementAndGet();
        tickets.clear();
        for (Session s : open) {
            s.terminate(reason);
        }
    }

    /** Runs a session's closing off the event loop (inline once the agent is stopping). */
    void ending(Runnable end) {
        try {
            ends.execute(end);
        } catch (RejectedExecutionException e) {
            end.run();
        }
    }

    @Override
    public void close() {
        closed = true;
        closeAll("the agent is stopping");
        ends.shutdown();
        try {
            // the streams are closed (commands killed, consoles freed) before the drivers go
            if (!ends.awaitTermination(15, TimeUnit.SECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "console sessions still closing after 15 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private ComputeDriver capableDriver(InstanceRecord r, SessionKind kind) {
        ComputeDriver d = drivers.require(r.driver());
        Capability needed = kind == SessionKind.CONSOLE ? Capability.CONSOLE : Capability.EXEC;
        if (!d.describe().has(needed)) {
            throw new DriverException.CapabilityMissing(r.driver(), needed);
        }
        return d;
    }

    private synchronized void admit(UUID uuid, SessionKind kind) {
        if (closed) {
            throw new SessionRefused(503, "agent", "stopping", "the agent is stopping");
        }
        if (kind == SessionKind.CONSOLE && consoles.contains(uuid)) {
            throw new SessionRefused(409, "console", "in_use", "the console of instance " + uuid
                    + " is in use by another session (one at a time); close it first");
        }
        if (total >= config.maxSessions()) {
            throw new SessionRefused(429, "console.max_sessions", "limit", total + " sessions are open on this agent, "
                    + "console.max_sessions is " + config.maxSessions());
        }
        int mine = perInstance.getOrDefault(uuid, 0);
        if (mine >= config.maxSessionsPerInstance()) {
            throw new SessionRefused(429, "console.max_sessions_per_instance", "limit", mine + " sessions are open on "
                    + "instance " + uuid + ", console.max_sessions_per_instance is " + config.maxSessionsPerInstance());
        }
        total++;
        perInstance.merge(uuid, 1, Integer::sum);
        if (kind == SessionKind.CONSOLE) {
            consoles.add(uuid);
        }
    }

    private synchronized void release(UUID uuid, SessionKind kind) {
        total--;
        perInstance.computeIfPresent(uuid, (k, n) -> n <= 1 ? null : n - 1);
        if (kind == SessionKind.CONSOLE) {
            consoles.remove(uuid);
        }
    }
}
