package org.berth.agent.placement;

import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.berth.agent.capacity.CapacityService;
import org.berth.agent.config.AgentConfig;
import org.berth.agent.config.PlacementConfig;
import org.berth.agent.driver.Drivers;
import org.berth.agent.store.Store;

/**
 * Keeps this host's resource provider in Placement equal to the agent's own view, on one thread of its own (never
 * on a request's path: a spawn never waits for Placement and never fails because of it).
 * <ul>
 * <li>a full sync every {@code update_resources_interval}: 3 reads (inventories, traits, allocations) and writes
 * only for what differs; it heals drift both ways (missing allocations written from the store, allocations on this
 * provider whose consumer the store does not have removed, other providers' left alone);</li>
 * <li>between syncs, instance changes ({@link #changed}) are written as they come;</li>
 * <li>failures (Placement down, 5xx, HTML, slow) are logged and retried with a doubling backoff up to
 * {@code placement.max_backoff}; a full sync then catches up.</li>
 * </ul>
 */
public final class PlacementReporter implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PlacementReporter.class.getName());
    static final int ATTEMPTS = 4;
    private static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);

    private final PlacementConfig config;
    private final ReportSource source;
    private final PlacementClient client;
    private final ProviderCalls calls;
    private final ConsumerWrites consumers;
    private final Clock clock;
    private final Semaphore wake = new Semaphore(0);
    /** Instances changed and not yet written: since when, and a change count (a newer change keeps the entry). */
    private final Map<UUID, Change> pending = new ConcurrentHashMap<>();
    private final AtomicLong changes = new AtomicLong();
    private final AtomicLong syncs = new AtomicLong();
    private final Thread thread;
    private volatile boolean closed;
    private volatile boolean syncRequested = true;

    // owned by the reporter thread
    private boolean registered;
    private final Set<String> knownCustomTraits = new HashSet<>();
    /** What Placement holds on this provider, as last read or written; null until the first full sync. */
    private Map<UUID, Map<String, Long>> placed;
    /** Consumers on this provider that the store did not have at the last full sync. */
    private Set<UUID> unknownLastSync = Set.of();
    private Duration backoff = Duration.ZERO;
    private Instant lastAttemptPlusBackoff = Instant.EPOCH;

    // read by views
    private volatile Instant lastSuccess;
    private volatile Instant failingSince;
    private volatile String lastError;
    private volatile int failures;

    PlacementReporter(PlacementConfig config, ReportSource source, PlacementClient client, UUID provider, Clock clock) {
        this.config = config;
        this.source = source;
        this.client = client;
        this.calls = new ProviderCalls(client, provider, config.host());
        this.consumers = new ConsumerWrites(calls);
        this.clock = clock;
        this.thread = Thread.ofPlatform().daemon().name("berth-placement").unstarted(this::loop);
    }

    /** The reporter for the agent, started; null when placement.enabled is false. */
    public static PlacementReporter start(AgentConfig config, CapacityService capacity, Drivers drivers, Store store) {
        return start(config, capacity, drivers, store, uuid -> false);
    }

    /**
     * The reporter, started; {@code held} names instances whose consumers it must leave as Placement has them for
     * now (neither written nor removed: the returning-host check has not settled them yet).
     */
    public static PlacementReporter start(AgentConfig config, CapacityService capacity, Drivers drivers, Store store,
                                          java.util.function.Predicate<UUID> held) {
        PlacementConfig p = config.placement();
        if (!p.enabled()) {
            return null;
        }
        UUID provider = ProviderUuid.loadOrCreate(config.stateDir());
        PlacementReporter r = new PlacementReporter(p, new ReportSource(config, capacity, drivers, store, held),
                new PlacementClient(p.url(), p.token(), p.timeout()), provider, Clock.systemUTC());
        LOG.log(Level.INFO, "placement: reporting host '" + p.host() + "' as resource provider " + provider + " to "
                + p.url() + " every " + p.updateResourcesInterval().toSeconds() + " s");
        r.thread.start();
        return r;
    }

    public UUID providerUuid() {
        return calls.uuid();
    }

    /** Whether a local instance was evacuated while this host was down (the reconciler's after-restart rule). */
    public org.berth.agent.reconcile.EvacuatedCheck evacuatedCheck() {
        return new PlacementEvacuatedCheck(client, calls);
    }

    /** An instance's claim may have changed (spawn admitted, deleted, adopted...): written soon, without waiting. */
    public void changed(UUID instance) {
        Change c = new Change(clock.instant(), changes.incrementAndGet());
        pending.merge(instance, c, (old, now) -> new Change(old.since(), now.seq()));
        wake.release();
    }

    /** Asks for a full sync now (host disabled or enabled, a driver came or went). */
    public void requestSync() {
        syncRequested = true;
        wake.release();
    }

    public ReportState state() {
        Instant now = clock.instant();
        Instant oldest = pending.values().stream().map(Change::since).min(Instant::compareTo).orElse(null);
        Instant since = failingSince;
        long behind = 0;
        if (oldest != null) {
            behind = Duration.between(oldest, now).toSeconds();
        }
        if (since != null) {
            behind = Math.max(behind, Duration.between(since, now).toSeconds());
        }
        String state = since != null ? "failing" : lastSuccess == null ? "starting" : "ok";
        return new ReportState(state, calls.uuid(), lastSuccess, since != null ? lastError : null, behind,
                pending.size(), client.reads(), client.writes(), syncs.get());
    }

    private void loop() {
        Instant nextSync = clock.instant();
        while (!closed) {
            try {
                Instant now = clock.instant();
                Instant due = failingSince != null ? lastAttemptPlusBackoff : (syncRequested ? now : nextSync);
                long waitMs = Math.max(0, Duration.between(now, due).toMillis());
                if (waitMs > 0 && (failingSince != null || pending.isEmpty())) {
                    wake.tryAcquire(waitMs, TimeUnit.MILLISECONDS);
                    wake.drainPermits();
                    if (closed) {
                        return;
                    }
                    if (failingSince != null && clock.instant().isBefore(lastAttemptPlusBackoff)) {
                        continue; // while failing, only the backoff decides when to try again
                    }
                } else {
                    wake.drainPermits();
                }
                boolean full = failingSince != null || syncRequested || placed == null
                        || !clock.instant().isBefore(nextSync);
                if (full) {
                    syncRequested = false;
                    fullSync();
                    nextSync = clock.instant().plus(config.updateResourcesInterval());
                } else {
                    flushPending();
                }
                succeeded();
            } catch (PlacementException | IllegalStateException e) {
                failed(e);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.log(Level.ERROR, "placement: unexpected failure; retrying", e);
                failed(e);
            }
        }
    }

    private void succeeded() {
        if (failingSince != null) {
            LOG.log(Level.INFO, "placement: " + config.url() + " answers again after " + failures
                    + " failed attempts; provider " + calls.uuid() + " is in sync");
        }
        failingSince = null;
        lastError = null;
        failures = 0;
        backoff = Duration.ZERO;
        if (pending.isEmpty()) {
            lastSuccess = clock.instant();
        }
    }

    private void failed(RuntimeException e) {
        if (closed) {
            return;
        }
        Instant now = clock.instant();
        if (failingSince == null) {
            failingSince = now;
        }
        failures++;
        backoff = backoff.isZero() ? FIRST_BACKOFF : backoff.multipliedBy(2);
        if (backoff.compareTo(config.maxBackoff()) > 0) {
            backoff = config.maxBackoff();
        }
        lastAttemptPlusBackoff = now.plus(backoff);
        lastError = e.getMessage();
        LOG.log(Level.WARNING, "placement: report failed (attempt " + failures + ", " + pending.size()
                + " changes pending, instances keep working locally); retrying in " + backoff.toMillis() + " ms: "
                + e.getMessage());
    }

    /** One pass over everything: inventories, traits, every allocation on this provider. */
    void fullSync() {
        if (!registered) {
            calls.register();
            registered = true;
        }
        Map<UUID, Map<String, Long>> inPlacement = calls.allocations();
        if (inPlacement == null) {
            registered = false;
            throw new IllegalStateException("provider " + calls.uuid() + " vanished from Placement; registering again");
        }
        Map<UUID, Change> changedMeanwhile = Map.copyOf(pending);
        HostReport want = source.read();
        syncInventories(want.inventories());
        syncTraits(want.traits());
        Map<UUID, Map<String, Long>> now = new HashMap<>(inPlacement);
        for (var e : want.allocations().entrySet()) {
            if (!e.getValue().equals(inPlacement.get(e.getKey())) && write(e.getKey(), e.getValue())) {
                now.put(e.getKey(), e.getValue());
            }
        }
        Set<UUID> unknown = new HashSet<>();
        for (UUID consumer : inPlacement.keySet()) {
            if (want.allocations().containsKey(consumer) || want.held().contains(consumer)) {
                continue;
            }
            // two strikes: a scheduler claims before its spawn reaches this host, so a consumer the store does not
            // have is removed only when the previous full sync did not have it either
            if (!unknownLastSync.contains(consumer)) {
                unknown.add(consumer);
            } else if (remove(consumer)) {
                now.remove(consumer);
            }
        }
        unknownLastSync = unknown;
        placed = now;
        changedMeanwhile.forEach(pending::remove); // only if no newer change came meanwhile
        syncs.incrementAndGet();
        flushPending();
    }

    /**
     * Writes one instance's claim; a refusal of this one consumer (over capacity, a class Placement does not have)
     * is logged and left to the next full sync, so it cannot stop every other instance's report. Placement being
     * down or answering nonsense still fails the whole pass.
     */
    private boolean write(UUID uuid, Map<String, Long> want) {
        try {
            consumers.writeOurs(uuid, want);
            return true;
        } catch (PlacementException.Refused e) {
            LOG.log(Level.WARNING, "instance " + uuid + ": Placement refused its allocation " + want
                    + " (retried at the next full sync): " + e.getMessage());
            return false;
        }
    }

    private boolean remove(UUID uuid) {
        try {
            consumers.removeOurs(uuid);
            return true;
        } catch (PlacementException.Refused e) {
            LOG.log(Level.WARNING, "consumer " + uuid + ": Placement refused removing its allocation on this host "
                    + "(retried at the next full sync): " + e.getMessage());
            return false;
        }
    }

    /** Writes the instances changed since the last pass, comparing each with what Placement holds. */
    void flushPending() {
        for (Map.Entry<UUID, Change> e : Map.copyOf(pending).entrySet()) {
            for (var c : source.allocations(e.getKey()).entrySet()) {
                UUID consumer = c.getKey();
                Map<String, Long> want = c.getValue();
                Map<String, Long> have = placed.get(consumer);
                if (want != null && !want.equals(have)) {
                    if (write(consumer, want)) {
                        placed.put(consumer, want);
                    }
                } else if (want == null && have != null && remove(consumer)) {
                    placed.remove(consumer);
                }
            }
            pending.remove(e.getKey(), e.getValue()); // a change that came while writing stays for the next pass
        }
    }

    /**
     * Sets Berth's classes (VCPU, MEMORY_MB, DISK_GB), keeping classes others put on the provider. A class of ours
     * that left (total 0) but still has allocations cannot be removed (409 placement.inventory.inuse): its current
     * record is kept, with a warning, and the sync goes on to traits and allocations instead of failing each pass.
     */
    private void syncInventories(Map<String, Inventory> ours) {
        boolean keepInUse = false;
        for (int attempt = 1; ; attempt++) {
            ProviderCalls.Inventories have = calls.inventories();
            if (have == null) {
                registered = false;
                throw new IllegalStateException("provider " + calls.uuid() + " vanished from Placement");
            }
            Map<String, Inventory> want = new java.util.LinkedHashMap<>(ours);
            boolean inUse = keepInUse;
            have.byClass().forEach((rc, inv) -> {
                if (!ReportSource.CLASSES.contains(rc) || inUse) {
                    want.putIfAbsent(rc, inv);
                }
            });
            if (same(have.byClass(), want)) {
                return;
            }
            try {
                calls.putInventories(have.generation(), want);
                LOG.log(Level.INFO, "placement: inventories of " + calls.uuid() + " set to " + want.keySet() + " "
                        + want.values());
                return;
            } catch (PlacementException.Refused e) {
                if (e.status() == 409 && "placement.inventory.inuse".equals(e.code()) && !keepInUse) {
                    LOG.log(Level.WARNING, "placement: a class this host no longer has still has allocations; its "
                            + "inventory stays until they are gone: " + e.getMessage());
                    keepInUse = true;
                    continue;
                }
                if (!e.concurrentUpdate() || attempt >= ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    private static boolean same(Map<String, Inventory> have, Map<String, Inventory> want) {
        return have.size() == want.size() && want.entrySet().stream().allMatch(e -> e.getValue().same(have.get(e.getKey())));
    }

    private void syncTraits(Set<String> wanted) {
        for (int attempt = 1; ; attempt++) {
            ProviderCalls.TraitList have = calls.traits();
            if (have == null) {
                registered = false;
                throw new IllegalStateException("provider " + calls.uuid() + " vanished from Placement");
            }
            Set<String> want = Traits.merge(have.traits(), wanted);
            if (want.equals(have.traits())) {
                return;
            }
            for (String custom : Traits.custom(want)) {
                if (!have.traits().contains(custom) && !knownCustomTraits.contains(custom)) {
                    calls.createTrait(custom);
                    knownCustomTraits.add(custom); // only once it exists: a failed create is tried again
                }
            }
            try {
                calls.putTraits(have.generation(), want);
                LOG.log(Level.INFO, "placement: traits of " + calls.uuid() + " set to " + want);
                return;
            } catch (PlacementException.Refused e) {
                if (e.status() == 400) {
                    knownCustomTraits.clear(); // "No such trait": Placement lost them (a new database); make them again
                }
                if (!e.concurrentUpdate() || attempt >= ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    private record Change(Instant since, long seq) {
    }

    @Override
    public void close() {
        closed = true;
        wake.release();
        thread.interrupt();
        try {
            thread.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        client.close();
    }
}
