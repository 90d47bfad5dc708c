package org.berth.agent.reconcile;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.Store;
import org.berth.agent.store.VmState;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.PowerState;

/**
 * The after-restart rule of an evacuated host (Nova's {@code _destroy_evacuated_instances}): before the first sweep
 * starts, power-syncs or finishes anything, each local instance that is not deleted and not in a migration is checked
 * against Placement, whatever its task: a host that lost power mid-rebuild or mid-spawn and was evacuated must not
 * finish that task on its return (the rebuild's respawn would run the instance twice). A destroyed one has its task
 * cleared, so the reconciler's interrupted-task handling never sees it. One whose allocations are on other providers was rebuilt there while this host was down:
 * its local copy is destroyed (never started), its record marked DELETED, this provider's part of its allocations
 * removed. While Placement cannot tell, such instances are left alone (no start, no power sync) and checked again on
 * later sweeps, with a backoff from 1 s to {@link #MAX_BACKOFF}. Used on the reconcile thread only.
 */
final class ReturningHost {
    private static final System.Logger LOG = System.getLogger(ReturningHost.class.getName());
    static final Duration MAX_BACKOFF = Duration.ofSeconds(60);

    private final Store store;
    private volatile EvacuatedCheck check;
    private volatile java.util.function.Consumer<UUID> settled = u -> { };
    /** Instances the first sweep found and Placement has not answered for yet. */
    private final Set<UUID> unchecked = ConcurrentHashMap.newKeySet();
    private Duration backoff = Duration.ZERO;
    private Instant nextTry = Instant.EPOCH;

    /**
     * Takes the store's candidates at once (before the Placement report starts: until each is settled the report
     * leaves its consumers alone, so the report cannot add this host's part to a consumer that has moved on).
     */
    ReturningHost(Store store) {
        this.store = store;
        store.listAll().forEach(this::candidate);
    }

    void check(EvacuatedCheck placementCheck, java.util.function.Consumer<UUID> onSettled) {
        this.check = placementCheck;
        this.settled = onSettled;
    }

    /** True while the instance waits for the check (the Placement report holds its consumers as they are). */
    boolean pending(UUID uuid) {
        return unchecked.contains(uuid);
    }

    /** What to do with an instance this sweep. */
    enum Verdict { RECONCILE, FIRST_RECONCILE, SKIP, DESTROYED }

    /**
     * The instances the rule applies to, taken once from the store at start. A task does not exempt one (see the
     * class comment); a migration marker does: its consumers are the migration's, settled by confirm or revert.
     */
    private void candidate(InstanceRecord r) {
        if (!r.deleted() && r.migration() == null) {
            unchecked.add(r.uuid());
        }
    }

    /** True while some instance still waits for Placement's answer (another sweep is then wanted after the backoff). */
    boolean waiting() {
        return !unchecked.isEmpty();
    }

    Duration backoff() {
        return backoff;
    }

    /**
     * Checks one instance if it is still unchecked: RECONCILE (not one of them), FIRST_RECONCILE (it is this host's:
     * reconcile it with the after-restart rules now), SKIP (Placement cannot tell yet: leave it untouched) or
     * DESTROYED (it was evacuated: the local copy is gone).
     */
    Verdict check(ComputeDriver driver, InstanceRecord r) {
        if (!unchecked.contains(r.uuid())) {
            return Verdict.RECONCILE;
        }
        if (check == null || Instant.now().isBefore(nextTry)) {
            return Verdict.SKIP;
        }
        String elsewhere;
        try {
            elsewhere = check.rebuiltOn(r);
        } catch (RuntimeException e) {
            failed(r, e);
            return Verdict.SKIP;
        }
        backoff = Duration.ZERO;
        if (elsewhere == null) {
            unchecked.remove(r.uuid());
            settled.accept(r.uuid());
            return Verdict.FIRST_RECONCILE;
        }
        // the stale copy: the instance lives on the other host now. A destroy that fails leaves it unchecked, so
        // a later sweep tries again rather than starting it
        try {
            driver.destroy(r.uuid());
        } catch (RuntimeException e) {
            failed(r, e);
            return Verdict.SKIP;
        }
        unchecked.remove(r.uuid());
        settled.accept(r.uuid());
        String detail = "evacuated: rebuilt on " + elsewhere + " while this host was down";
        store.update(r.withState(VmState.DELETED, PowerState.NOSTATE).withTask(null));
        store.addEvent(r.uuid(), null, "reconcile.evacuated", detail);
        LOG.log(Level.WARNING, "instance " + r.uuid() + ": " + detail + "; local copy destroyed, not started");
        try {
            check.releaseOurs(r.uuid());
        } catch (RuntimeException e) {
            // the record is DELETED now: the Placement report removes this host's part on its next passes anyway
            LOG.log(Level.WARNING, "instance " + r.uuid() + ": this host's allocation stays until the next report: "
                    + e.getMessage());
        }
        return Verdict.DESTROYED;
    }

    private void failed(InstanceRecord r, RuntimeException e) {
        backoff = backoff.isZero() ? Duration.ofSeconds(1) : backoff.multipliedBy(2);
        if (backoff.compareTo(MAX_BACKOFF) > 0) {
            backoff = MAX_BACKOFF;
        }
        nextTry = Instant.now().plus(backoff);
        LOG.log(Level.WARNING, "instance " + r.uuid() + ": cannot settle whether it was evacuated while this host "
                + "was down (" + e.getMessage() + "); " + unchecked.size() + " instance(s) left untouched, not "
                + "started, tried again in " + backoff.toMillis() + " ms");
    }
}
