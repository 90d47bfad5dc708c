package org.berth.agent.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.Locale;
import org.berth.agent.stats.DriverSeries;
import org.berth.agent.stats.InstanceSample;
import org.berth.agent.stats.Rates;
import org.berth.agent.stats.StatsSnapshot;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.PowerState;

/** JSON of the sampled counters: {@code GET /v1/instances/stats} and Nova's server diagnostics. */
final class StatsViews {
    private static final double MIB = 1024 * 1024;

    private StatsViews() {
    }

    /** The last sample with its counters and the rates since the one before. */
    static ObjectNode stats(StatsSnapshot now, java.time.Duration interval) {
        ObjectNode root = Views.MAPPER.createObjectNode();
        ObjectNode n = root.putObject("stats");
        time(n, "sampled_at", now.sampledAt());
        n.put("interval_seconds", interval.toMillis() / 1e3);
        ArrayNode drivers = n.putArray("drivers");
        now.drivers().forEach((name, s) -> {
            ObjectNode d = drivers.addObject().put("driver", name);
            time(d, "sampled_at", s.last().at());
            time(d, "previous_sampled_at", s.previous() == null ? null : s.previous().at());
            d.put("stale", s.stale()).put("sample_seconds", s.lastAttempt().toNanos() / 1e9)
                    .put("instances", s.last().instances().size());
        });
        ArrayNode list = n.putArray("instances");
        now.all().forEach(f -> list.add(instance(f)));
        return root;
    }

    private static ObjectNode instance(StatsSnapshot.Found f) {
        InstanceStats s = f.last().stats();
        Rates r = f.rates().orElse(null);
        DriverSeries series = f.series();
        ObjectNode n = Views.MAPPER.createObjectNode();
        n.put("uuid", s.uuid().toString()).put("name", f.last().name()).put("driver", f.driver())
                .put("state", s.state().name()).put("stale", series.stale());
        time(n, "sampled_at", series.last().at());
        n.put("vcpus", s.vcpus()).put("cpu_time_ns", s.cpuTimeNs());
        ObjectNode m = n.putObject("memory");
        figure(m, "used_bytes", s.memory().usedBytes());
        figure(m, "resident_bytes", s.memory().residentBytes());
        figure(m, "limit_bytes", s.memory().limitBytes());
        ArrayNode vifs = n.putArray("vifs");
        for (InstanceStats.VifStats v : s.vifs()) {
            ObjectNode o = vifs.addObject().put("port_id", v.portId()).put("device", v.device());
            figure(o, "rx_bytes", v.rxBytes());
            figure(o, "rx_packets", v.rxPackets());
            figure(o, "rx_drops", v.rxDrops());
            figure(o, "rx_errors", v.rxErrors());
            figure(o, "tx_bytes", v.txBytes());
            figure(o, "tx_packets", v.txPackets());
            figure(o, "tx_drops", v.txDrops());
            figure(o, "tx_errors", v.txErrors());
            Rates.Vif vr = r == null ? null : r.vifs().get(v.portId());
            rate(o, "rx_bytes_per_second", vr == null ? null : vr.rxBytesPerSecond());
            rate(o, "tx_bytes_per_second", vr == null ? null : vr.txBytesPerSecond());
        }
        ArrayNode disks = n.putArray("disks");
        for (InstanceStats.DiskStats d : s.disks()) {
            ObjectNode o = disks.addObject().put("device", d.device());
            figure(o, "read_bytes", d.readBytes());
            figure(o, "read_requests", d.readRequests());
            figure(o, "write_bytes", d.writeBytes());
            figure(o, "write_requests", d.writeRequests());
            figure(o, "capacity_bytes", d.capacityBytes());
            figure(o, "allocation_bytes", d.allocationBytes());
            Rates.Disk dr = r == null ? null : r.disks().get(d.device());
            rate(o, "read_bytes_per_second", dr == null ? null : dr.readBytesPerSecond());
            rate(o, "write_bytes_per_second", dr == null ? null : dr.writeBytesPerSecond());
        }
        if (r == null) {
            n.putNull("rates");
        } else {
            ObjectNode o = n.putObject("rates");
            rate(o, "cpu_percent", r.cpuPercent());
            rate(o, "rx_bytes_per_second", r.rxBytesPerSecond());
            rate(o, "tx_bytes_per_second", r.txBytesPerSecond());
            rate(o, "read_bytes_per_second", r.readBytesPerSecond());
            rate(o, "write_bytes_per_second", r.writeBytesPerSecond());
        }
        return n;
    }

    /**
     * Nova's versioned server diagnostics (microversion 2.48, {@code nova/virt/diagnostics.py}): what Nova leaves
     * None is null here too (a figure the backend does not report; a rate without a previous sample), and every
     * figure Nova's objects declare an IntegerField is an integer here (the rates and utilisation rounded).
     *
     * @param driver the driver's kind ({@code kvm}, {@code docker}), Nova's virt driver name
     * @param uptime seconds since the instance last started, null when it is not running
     */
    static ObjectNode diagnostics(String driver, String hypervisor, InstanceSpec spec, InstanceSample sample,
                                  Rates rates, Long uptime) {
        InstanceStats s = sample.stats();
        ObjectNode n = Views.MAPPER.createObjectNode();
        n.put("state", s.state() == PowerState.NOSTATE ? "pending" : s.state().name().toLowerCase(Locale.ROOT))
                .put("driver", driver).put("hypervisor", hypervisor)
                .put("hypervisor_os", System.getProperty("os.name", "linux").toLowerCase(Locale.ROOT));
        if (uptime == null) {
            n.putNull("uptime");
        } else {
            n.put("uptime", uptime);
        }
        n.put("config_drive", configDrive(driver, spec))
                .put("num_cpus", s.vcpus()).put("num_nics", s.vifs().size()).put("num_disks", s.disks().size());
        ArrayNode cpus = n.putArray("cpu_details");
        for (int i = 0; i < s.vcpuTimesNs().size(); i++) {
            ObjectNode c = cpus.addObject().put("id", i).put("time", s.vcpuTimesNs().get(i));
            whole(c, "utilisation", rates == null || i >= rates.vcpuPercent().size() ? null
                    : rates.vcpuPercent().get(i));
        }
        ArrayNode nics = n.putArray("nic_details");
        for (InstanceStats.VifStats v : s.vifs()) {
            ObjectNode o = nics.addObject();
            String mac = spec == null ? null : spec.vifs().stream().filter(x -> x.portId().equals(v.portId()))
                    .map(org.berth.driver.api.VifSpec::mac).findFirst().orElse(null);
            o.put("mac_address", mac);
            Rates.Vif vr = rates == null ? null : rates.vifs().get(v.portId());
            figure(o, "rx_octets", v.rxBytes());
            figure(o, "rx_errors", v.rxErrors());
            figure(o, "rx_drop", v.rxDrops());
            figure(o, "rx_packets", v.rxPackets());
            whole(o, "rx_rate", vr == null ? null : vr.rxBytesPerSecond());
            figure(o, "tx_octets", v.txBytes());
            figure(o, "tx_errors", v.txErrors());
            figure(o, "tx_drop", v.txDrops());
            figure(o, "tx_packets", v.txPackets());
            whole(o, "tx_rate", vr == null ? null : vr.txBytesPerSecond());
        }
        ArrayNode disks = n.putArray("disk_details");
        for (InstanceStats.DiskStats d : s.disks()) {
            ObjectNode o = disks.addObject();
            figure(o, "read_bytes", d.readBytes());
            figure(o, "read_requests", d.readRequests());
            figure(o, "write_bytes", d.writeBytes());
            figure(o, "write_requests", d.writeRequests());
            o.putNull("errors_count"); // no backend reports I/O errors per disk
        }
        ObjectNode mem = n.putObject("memory_details");
        long limit = s.memory().limitBytes();
        long flavor = spec == null ? InstanceStats.UNKNOWN : (long) spec.flavor().memoryMb() << 20;
        mib(mem, "maximum", InstanceStats.known(limit) ? limit : flavor);
        mib(mem, "used", s.memory().usedBytes());
        return n;
    }

    /**
     * Whether the instance has a config drive: a container never has one (it gets its metadata as a directory,
     * not a drive); a VM has one unless its spec turned it off (the kvm driver's default is on, as Nova's).
     */
    static boolean configDrive(String driver, InstanceSpec spec) {
        if ("docker".equals(driver)) {
            return false;
        }
        return spec != null && spec.guest().configDriveOr(true);
    }

    /** A rate as Nova's IntegerField: rounded to a whole number, null when unknown. */
    private static void whole(ObjectNode o, String field, Double v) {
        if (v == null) {
            o.putNull(field);
        } else {
            o.put(field, Math.round(v));
        }
    }

    private static void mib(ObjectNode o, String field, long bytes) {
        if (InstanceStats.known(bytes)) {
            o.put(field, Math.round(bytes / MIB));
        } else {
            o.putNull(field);
        }
    }

    private static void figure(ObjectNode o, String field, long v) {
        if (InstanceStats.known(v)) {
            o.put(field, v);
        } else {
            o.putNull(field);
        }
    }

    private static void rate(ObjectNode o, String field, Double v) {
        if (v == null) {
            o.putNull(field);
        } else {
            o.put(field, Math.round(v * 100) / 100.0);
        }
    }

    private static void time(ObjectNode o, String field, Instant at) {
        if (at == null) {
            o.putNull(field);
        } else {
            o.put(field, at.toString());
        }
    }
}
