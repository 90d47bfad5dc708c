package org.berth.agent.stats;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.berth.agent.metrics.Families;
import org.berth.driver.api.InstanceStats;

/**
 * Per-instance meters from the sampler's last sample, named as Incus names its instance metrics
 * ({@code incus_cpu_seconds_total}, {@code incus_network_receive_bytes_total{device}} …) with {@code berth_instance_}
 * in front; labels {@code uuid}, {@code name}, {@code driver}, and {@code device} for a VIF or a disk. A figure the
 * backend does not report is left out, never written as 0. Reads {@link StatsSampler#current()} only: a scrape
 * never calls a driver. A driver stale for more than {@link DriverSeries#STALE_INTERVALS} intervals has its
 * per-instance series left out (its {@code berth_instance_stats_*} gauges stay), see {@link DriverSeries#expired}.
 */
public final class InstanceMetrics implements MultiCollector {
    private static final String NET = "berth_instance_network_";
    private static final String DISK = "berth_instance_disk_";

    private final StatsSampler sampler;

    public InstanceMetrics(StatsSampler sampler) {
        this.sampler = sampler;
    }

    /**
     * What this collector's text depends on: the sampler's snapshot (by identity) and which of its drivers are past
     * the staleness bound now. A driver hung in a call holds the sampler, so no new snapshot comes; the bound must
     * still take effect at the scrape when it passes.
     */
    public Object exportKey() {
        StatsSnapshot now = sampler.current();
        java.time.Instant at = java.time.Instant.now();
        java.util.Set<String> expired = new java.util.TreeSet<>();
        now.drivers().forEach((driver, series) -> {
            if (series.expired(at, sampler.interval())) {
                expired.add(driver);
            }
        });
        return new Key(now, expired);
    }

    private record Key(StatsSnapshot snapshot, java.util.Set<String> expired) {
        @Override
        public boolean equals(Object o) {
            // the snapshot by identity: comparing hundreds of instances' figures would cost what the cache saves
            return o instanceof Key k && k.snapshot == snapshot && k.expired.equals(expired);
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(snapshot) * 31 + expired.hashCode();
        }
    }

    @Override
    public MetricSnapshots collect() {
        StatsSnapshot now = sampler.current();
        Families f = new Families();
        now.drivers().forEach((driver, series) -> {
            Labels d = Labels.of("driver", driver);
            f.gauge("berth_instance_stats_sample_seconds", "How long the driver's last stats() call took, in seconds.",
                    d, series.lastAttempt().toNanos() / 1e9);
            f.gauge("berth_instance_stats_last_sample_timestamp_seconds", "When the driver's figures served here were "
                    + "taken (Unix time).", d, series.last().at().toEpochMilli() / 1e3);
            f.gauge("berth_instance_stats_stale", "1 while the driver's last stats() call failed or timed out: its "
                    + "previous figures are served.", d, series.stale() ? 1 : 0);
        });
        java.time.Instant at = java.time.Instant.now();
        for (StatsSnapshot.Found found : now.all()) {
            if (found.series().expired(at, sampler.interval())) {
                continue;
            }
            InstanceStats s = found.last().stats();
            Labels l = Labels.of("uuid", s.uuid().toString(), "name", found.last().name(), "driver", found.driver());
            f.counter("berth_instance_cpu_seconds", "CPU time the instance consumed (all vCPUs), in seconds "
                    + "(Ceilometer's cpu).", l, s.cpuTimeNs() / 1e9);
            f.gauge("berth_instance_vcpus", "vCPUs of the instance (Ceilometer's vcpus).", l, s.vcpus());
            known(f, "berth_instance_memory_used_bytes", "Memory the guest uses, in bytes (Ceilometer's "
                    + "memory.usage).", l, s.memory().usedBytes());
            known(f, "berth_instance_memory_resident_bytes", "Memory the host gives the instance now, in bytes "
                    + "(Ceilometer's memory.resident).", l, s.memory().residentBytes());
            known(f, "berth_instance_memory_limit_bytes", "The most memory the instance may have, in bytes.", l,
                    s.memory().limitBytes());
            for (InstanceStats.VifStats v : s.vifs()) {
                Labels dl = l.add("device", v.device());
                counter(f, NET + "receive_bytes", "Bytes the instance received on the VIF.", dl, v.rxBytes());
                counter(f, NET + "receive_packets", "Packets the instance received on the VIF.", dl, v.rxPackets());
                counter(f, NET + "receive_drop", "Received packets dropped.", dl, v.rxDrops());
                counter(f, NET + "receive_errs", "Receive errors.", dl, v.rxErrors());
                counter(f, NET + "transmit_bytes", "Bytes the instance sent on the VIF.", dl, v.txBytes());
                counter(f, NET + "transmit_packets", "Packets the instance sent on the VIF.", dl, v.txPackets());
                counter(f, NET + "transmit_drop", "Sent packets dropped.", dl, v.txDrops());
                counter(f, NET + "transmit_errs", "Transmit errors.", dl, v.txErrors());
            }
            for (InstanceStats.DiskStats k : s.disks()) {
                Labels dl = l.add("device", k.device());
                counter(f, DISK + "read_bytes", "Bytes read from the disk.", dl, k.readBytes());
                counter(f, DISK + "reads_completed", "Read requests completed.", dl, k.readRequests());
                counter(f, DISK + "written_bytes", "Bytes written to the disk.", dl, k.writeBytes());
                counter(f, DISK + "writes_completed", "Write requests completed.", dl, k.writeRequests());
                known(f, DISK + "capacity_bytes", "The disk's virtual size, in bytes.", dl, k.capacityBytes());
                known(f, DISK + "allocation_bytes", "Bytes the disk takes on the host.", dl, k.allocationBytes());
            }
        }
        return f.build();
    }

    private static void known(Families f, String name, String help, Labels l, long v) {
        if (InstanceStats.known(v)) {
            f.gauge(name, help, l, v);
        }
    }

    private static void counter(Families f, String name, String help, Labels l, long v) {
        if (InstanceStats.known(v)) {
            f.counter(name, help, l, v);
        }
    }
}
