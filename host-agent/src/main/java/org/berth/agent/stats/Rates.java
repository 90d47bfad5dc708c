package org.berth.agent.stats;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.berth.driver.api.InstanceStats;

/**
 * Per-second rates of an instance between two samples. A figure is null where it cannot be had: unknown in either
 * sample, or a counter that went down (the backend object restarted, so the counter began again from 0).
 *
 * @param cpuPercent       CPU time per wall time, 100 = one CPU busy (as {@code docker stats} and {@code top})
 * @param vcpuPercent      the same per vCPU, by index (empty when the backend has no per-vCPU figure)
 * @param vifs             by port id
 * @param disks            by device
 * @param rxBytesPerSecond received by the instance, all VIFs (null when any is unknown)
 */
public record Rates(Double cpuPercent, List<Double> vcpuPercent, Map<String, Vif> vifs, Map<String, Disk> disks,
                    Double rxBytesPerSecond, Double txBytesPerSecond, Double readBytesPerSecond,
                    Double writeBytesPerSecond) {

    public record Vif(Double rxBytesPerSecond, Double txBytesPerSecond) {
    }

    public record Disk(Double readBytesPerSecond, Double writeBytesPerSecond) {
    }

    public Rates {
        vcpuPercent = java.util.Collections.unmodifiableList(new ArrayList<>(vcpuPercent));
        vifs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(vifs));
        disks = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(disks));
    }

    static Rates between(InstanceStats before, Instant beforeAt, InstanceStats after, Instant afterAt) {
        double seconds = Duration.between(beforeAt, afterAt).toNanos() / 1e9;
        Double cpu = perSecond(before.cpuTimeNs(), after.cpuTimeNs(), seconds);
        List<Double> vcpus = new ArrayList<>();
        for (int i = 0; i < after.vcpuTimesNs().size(); i++) {
            Double r = i < before.vcpuTimesNs().size()
                    ? perSecond(before.vcpuTimesNs().get(i), after.vcpuTimesNs().get(i), seconds) : null;
            vcpus.add(r == null ? null : r / 1e7); // ns per s → percent
        }
        Map<String, Vif> vifs = new LinkedHashMap<>();
        for (InstanceStats.VifStats v : after.vifs()) {
            InstanceStats.VifStats b = before.vifs().stream().filter(x -> x.portId().equals(v.portId())).findFirst()
                    .orElse(null);
            vifs.put(v.portId(), new Vif(b == null ? null : perSecond(b.rxBytes(), v.rxBytes(), seconds),
                    b == null ? null : perSecond(b.txBytes(), v.txBytes(), seconds)));
        }
        Map<String, Disk> disks = new LinkedHashMap<>();
        for (InstanceStats.DiskStats d : after.disks()) {
            InstanceStats.DiskStats b = before.disks().stream().filter(x -> x.device().equals(d.device())).findFirst()
                    .orElse(null);
            disks.put(d.device(), new Disk(b == null ? null : perSecond(b.readBytes(), d.readBytes(), seconds),
                    b == null ? null : perSecond(b.writeBytes(), d.writeBytes(), seconds)));
        }
        return new Rates(cpu == null ? null : cpu / 1e7, vcpus, vifs, disks,
                sum(vifs.values().stream().map(Vif::rxBytesPerSecond).toList()),
                sum(vifs.values().stream().map(Vif::txBytesPerSecond).toList()),
                sum(disks.values().stream().map(Disk::readBytesPerSecond).toList()),
                sum(disks.values().stream().map(Disk::writeBytesPerSecond).toList()));
    }

    /** {@code (after - before) / seconds}; null when unknown, gone backwards, or no time passed. */
    static Double perSecond(long before, long after, double seconds) {
        if (!InstanceStats.known(before) || !InstanceStats.known(after) || after < before || !(seconds > 0)) {
            return null;
        }
        return (after - before) / seconds;
    }

    private static Double sum(List<Double> parts) {
        double s = 0;
        for (Double p : parts) {
            if (p == null) {
                return null;
            }
            s += p;
        }
        return s;
    }
}
