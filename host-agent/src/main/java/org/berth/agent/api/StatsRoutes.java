package org.berth.agent.api;

import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.berth.agent.driver.Drivers;
import org.berth.agent.stats.InstanceSample;
import org.berth.agent.stats.Rates;
import org.berth.agent.stats.StatsSampler;
import org.berth.agent.stats.StatsSnapshot;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.SpecJson;
import org.berth.agent.store.Store;
import org.berth.agent.task.InstanceService;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.PowerState;

/** {@code GET /v1/instances/stats} (the last sample) and {@code GET /v1/instances/{uuid}/diagnostics} (Nova's). */
final class StatsRoutes {
    private final StatsSampler sampler;
    private final InstanceService instances;
    private final Drivers drivers;
    private final Store store;

    StatsRoutes(StatsSampler sampler, InstanceService instances, Drivers drivers, Store store) {
        this.sampler = sampler;
        this.instances = instances;
        this.drivers = drivers;
        this.store = store;
    }

    /** Reads the last sample only: polling it (berth top) never reaches a driver. */
    Response list() {
        return Response.json(200, StatsViews.stats(sampler.current(), sampler.interval()));
    }

    /**
     * With sampling on, from the last sample only (rates from the last two): a request never calls a driver, and an
     * instance not in the sample yet (building, no backend object, a driver that has not answered) is 409 {@code
     * not_reported} with {@code Retry-After} one interval. With sampling off, from the driver's one bounded call
     * (shared by concurrent requests; see {@link StatsSampler#fresh}).
     */
    Response diagnostics(UUID uuid) {
        InstanceRecord r = instances.get(uuid);
        ComputeDriver d = drivers.require(r.driver());
        if (!d.describe().has(Capability.INSTANCE_STATS)) {
            throw new DriverException.CapabilityMissing(r.driver(), Capability.INSTANCE_STATS);
        }
        InstanceSample sample;
        Rates rates;
        if (sampler.enabled()) {
            StatsSnapshot.Found found = sampler.current().find(uuid).filter(f -> f.driver().equals(r.driver()))
                    .orElse(null);
            if (found == null) {
                long every = Math.max(1, (sampler.interval().toMillis() + 999) / 1000);
                return Errors.body(notReported(r, "its driver's last sample has no figures for it (yet); the next "
                        + "sample is due within " + every + " s")).withHeader("Retry-After", Long.toString(every));
            }
            sample = found.last();
            rates = found.rates().orElse(null);
        } else {
            sample = sampler.fresh(r).orElseThrow(() -> notReported(r, "it has no backend object; try again once "
                    + "it is spawned"));
            rates = null;
        }
        InstanceSpec spec;
        try {
            spec = SpecJson.readString(r.specJson());
        } catch (RuntimeException e) {
            spec = null; // a record from an older agent: the diagnostics go without MACs and config drive
        }
        return Response.json(200, StatsViews.diagnostics(d.describe().name(), d.describe().hypervisorType(), spec,
                sample, rates, uptime(r, sample.stats())));
    }

    private static ApiError notReported(InstanceRecord r, String why) {
        return new ApiError(409, "uuid", "not_reported", "driver " + r.driver() + " reports no figures for instance "
                + r.uuid() + ": " + why);
    }

    /**
     * Seconds since the instance's last STARTED lifecycle event (the store's newest one, however many events came
     * after it; one indexed lookup), else since its creation; null unless running.
     */
    private Long uptime(InstanceRecord r, InstanceStats s) {
        if (s.state() != PowerState.RUNNING) {
            return null;
        }
        Instant since = store.lastEventAt(r.uuid(), "lifecycle", "STARTED").orElse(r.createdAt());
        return Math.max(0, Duration.between(since, Instant.now()).toSeconds());
    }
}
