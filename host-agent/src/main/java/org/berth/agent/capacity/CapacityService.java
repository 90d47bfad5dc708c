package org.berth.agent.capacity;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import org.berth.agent.config.AgentConfig;
import org.berth.agent.driver.Drivers;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.Store;
import org.berth.agent.store.Usage;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.HostResources;

/**
 * Host capacity counted once for the host (VMs and containers share CPUs and memory) and admission control:
 * "compute hosts have the final say". A spawn claims its flavor by inserting its record under this object's lock,
 * so two concurrent spawns can never both take the last free memory.
 */
public final class CapacityService {
    private static final System.Logger LOG = System.getLogger(CapacityService.class.getName());

    private final AgentConfig config;
    private final Drivers drivers;
    private final Store store;
    private final HostStatus status;
    private volatile HostTotals totals;
    /** What the drivers reported at the last {@link #refresh()}: served by {@link #last()} without a driver call. */
    private volatile DriverFigures reported = new DriverFigures(new Capacity.Resources(0, 0, 0), 0, List.of());

    private record DriverFigures(Capacity.Resources used, int running, List<Capacity.Hypervisor> hypervisors) {
    }

    public CapacityService(AgentConfig config, Drivers drivers, Store store, HostStatus status) {
        this.config = config;
        this.drivers = drivers;
        this.store = store;
        this.status = status;
        this.totals = HostProbe.probe(config.stateDir());
    }

    public HostStatus status() {
        return status;
    }

    /** The last totals {@link #refresh()} found (no driver call). */
    public HostTotals totals() {
        return totals;
    }

    /** Disk a flavor claims, in GiB (root + ephemeral + swap rounded up). */
    public static long diskGb(Flavor f) {
        return (long) f.rootGb() + f.ephemeralGb() + (f.swapMb() + 1023) / 1024;
    }

    /** Asks every connected driver for resources(); host totals come from the first that answers. */
    public Capacity refresh() {
        long vcpusUsed = 0;
        long memUsed = 0;
        long diskUsed = 0;
        int running = 0;
        HostTotals first = null;
        List<Capacity.Hypervisor> hypervisors = new ArrayList<>();
        for (String name : drivers.names()) {
            ComputeDriver d = drivers.find(name).orElse(null);
            if (d == null) {
                continue;
            }
            try {
                HostResources r = d.resources();
                if (first == null) {
                    first = new HostTotals(r.vcpus(), r.memoryMb(), r.localGb(), r.hypervisorHostname(), r.cpuInfo(),
                            "driver " + name);
                }
                vcpusUsed += r.vcpusUsed();
                memUsed += r.memoryMbUsed();
                diskUsed += r.localGbUsed();
                running += r.runningInstances();
                hypervisors.add(new Capacity.Hypervisor(name, r.hypervisorType(), r.hypervisorVersion()));
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "driver " + name + " resources() failed: " + e.getMessage());
            }
        }
        if (first != null) {
            totals = first;
        }
        DriverFigures figures = new DriverFigures(new Capacity.Resources(vcpusUsed, memUsed, diskUsed), running,
                List.copyOf(hypervisors));
        reported = figures;
        return view(figures.used(), running, figures.hypervisors());
    }

    /**
     * The capacity without asking any driver, for /metrics: totals and the drivers' usage as of the last
     * {@link #refresh()} (the reconcile sweep refreshes every {@code sync_power_state_interval}, the Placement
     * report every {@code update_resources_interval}, {@code GET /v1/host} at each call), claims and free
     * capacity from the store now, so they follow every spawn and delete at once.
     */
    public Capacity last() {
        DriverFigures f = reported;
        return view(f.used(), f.running(), f.hypervisors());
    }

    private Capacity view(Capacity.Resources driverUsed, int running, List<Capacity.Hypervisor> hypervisors) {
        HostTotals t = totals;
        Capacity.Resources limits = limits(t);
        Usage u = store.usage();
        Capacity.Resources claimed = new Capacity.Resources(u.vcpus(), u.memoryMb(), u.diskGb());
        Capacity.Resources free = new Capacity.Resources(limits.vcpus() - claimed.vcpus(),
                limits.memoryMb() - claimed.memoryMb(), limits.diskGb() - claimed.diskGb());
        return new Capacity(t, limits, driverUsed, claimed, free, running, hypervisors);
    }

    private Capacity.Resources limits(HostTotals t) {
        long vcpus = (long) Math.floor(t.vcpus() * config.cpuAllocationRatio());
        long mem = (long) Math.floor(Math.max(0, t.memoryMb() - config.reservedHostMemoryMb()) * config.ramAllocationRatio());
        long disk = (long) Math.floor(t.localGb() * config.diskAllocationRatio());
        return new Capacity.Resources(vcpus, mem, disk);
    }

    /**
     * Inserts the record if its flavor fits the free capacity; atomic with respect to other claims.
     *
     * @throws InsufficientCapacity naming the first resource that does not fit
     * @throws HostDisabled          while the host is disabled
     */
    public synchronized void claim(InstanceRecord record) {
        status.checkEnabled();
        Capacity.Resources limits = limits(totals);
        Usage u = store.usage();
        check("vcpus", record.vcpus(), limits.vcpus(), u.vcpus());
        check("memory_mb", record.memoryMb(), limits.memoryMb(), u.memoryMb());
        check("disk_gb", record.diskGb(), limits.diskGb(), u.diskGb());
        store.insert(record);
    }

    private static void check(String resource, long requested, long limit, long claimed) {
        if (requested > limit - claimed) {
            throw new InsufficientCapacity(resource, requested, limit, claimed);
        }
    }
}
