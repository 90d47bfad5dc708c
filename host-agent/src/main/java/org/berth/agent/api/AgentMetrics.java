package org.berth.agent.api;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.berth.agent.capacity.Capacity;
import org.berth.agent.capacity.CapacityService;
import org.berth.agent.driver.Drivers;
import org.berth.agent.metrics.Families;
import org.berth.agent.placement.ReportState;
import org.berth.agent.store.Store;
import org.berth.agent.task.OperationStats;

/**
 * The agent-level metrics /metrics always had (same names, labels and meaning), read at scrape time. Capacity comes
 * from {@link CapacityService#last()}: a scrape asks no driver for its resources.
 */
final class AgentMetrics implements MultiCollector {
    private static final Labels NONE = Labels.EMPTY;

    private final Store store;
    private final CapacityService capacity;
    private final Drivers drivers;
    private final OperationStats ops;
    private final HttpStats http;
    private final IntSupplier tasksRunning;
    private final LongSupplier sweeps;
    private final Supplier<ReportState> placement;
    private final IntSupplier consoleSessions;

    AgentMetrics(Store store, CapacityService capacity, Drivers drivers, OperationStats ops, HttpStats http,
                 IntSupplier tasksRunning, LongSupplier sweeps, Supplier<ReportState> placement,
                 IntSupplier consoleSessions) {
        this.store = store;
        this.capacity = capacity;
        this.drivers = drivers;
        this.ops = ops;
        this.http = http;
        this.tasksRunning = tasksRunning;
        this.sweeps = sweeps;
        this.placement = placement;
        this.consoleSessions = consoleSessions;
    }

    @Override
    public MetricSnapshots collect() {
        Families f = new Families();
        store.countByDriverAndState().forEach((k, v) -> f.gauge("berth_instances", "Instances in the store by driver "
                + "and vm_state.", Labels.of("driver", k.get(0), "state", k.get(1).toLowerCase(Locale.ROOT)), v));
        for (String name : drivers.names()) {
            f.gauge("berth_driver_available", "1 when the driver is connected.", Labels.of("driver", name),
                    drivers.find(name).isPresent() ? 1 : 0);
        }
        f.gauge("berth_tasks_running", "Instance tasks running now.", NONE, tasksRunning.getAsInt());
        f.counter("berth_reconcile_sweeps", "Reconcile sweeps run to their end since start.", NONE, sweeps.getAsLong());
        capacity(f, capacity.last());
        f.gauge("berth_console_sessions", "Interactive console and exec sessions open now.", NONE,
                consoleSessions.getAsInt());
        f.gauge("berth_host_disabled", "1 while the host is disabled (berth host disable).", NONE,
                capacity.status().status().disabled() ? 1 : 0);
        placement(f, placement.get());
        ops.snapshot().forEach((k, s) -> {
            String[] p = k.split("\u0000", 2);
            Labels l = Labels.of("driver", p[0], "operation", p[1]);
            f.summary("berth_operation_seconds", "Driver operation latency.", l, s.count(), s.seconds());
            f.counter("berth_operation_failures", "Driver operations that failed.", l, s.failures());
        });
        http.snapshot().forEach((k, v) -> {
            String[] p = k.split(" ", 2);
            f.counter("berth_http_requests", "HTTP requests answered.", Labels.of("method", p[0], "code", p[1]), v);
        });
        return f.build();
    }

    private static void capacity(Families f, Capacity c) {
        for (String r : List.of("vcpus", "memory_mb", "disk_gb")) {
            String name = "berth_capacity_" + r;
            String help = "Host " + r + ": total (raw), limit (after ratios), claimed, free, driver_used (as of the "
                    + "last capacity refresh).";
            f.gauge(name, help, Labels.of("kind", "total"), switch (r) {
                case "vcpus" -> c.totals().vcpus();
                case "memory_mb" -> c.totals().memoryMb();
                default -> c.totals().localGb();
            });
            for (var e : Map.of("limit", c.limits(), "claimed", c.claimed(), "free", c.free(),
                    "driver_used", c.driverUsed()).entrySet()) {
                Capacity.Resources x = e.getValue();
                f.gauge(name, help, Labels.of("kind", e.getKey()),
                        r.equals("vcpus") ? x.vcpus() : r.equals("memory_mb") ? x.memoryMb() : x.diskGb());
            }
        }
    }

    private static void placement(Families f, ReportState p) {
        if (p.state().equals("disabled")) {
            return;
        }
        f.gauge("berth_placement_up", "1 when the last report to Placement succeeded.", NONE,
                p.state().equals("ok") ? 1 : 0);
        f.gauge("berth_placement_last_success_timestamp_seconds", "When Placement last matched the store.", NONE,
                p.lastSuccess() == null ? 0 : p.lastSuccess().getEpochSecond());
        f.gauge("berth_placement_behind_seconds", "How long Placement has not matched the store.", NONE,
                p.behindSeconds());
        f.gauge("berth_placement_pending_changes", "Instance allocations not yet written to Placement.", NONE,
                p.pendingChanges());
        f.counter("berth_placement_syncs", "Full syncs with Placement run to their end.", NONE, p.syncs());
        f.counter("berth_placement_requests", "Requests sent to Placement (read = GET).", Labels.of("kind", "read"),
                p.reads());
        f.counter("berth_placement_requests", "Requests sent to Placement (read = GET).", Labels.of("kind", "write"),
                p.writes());
    }
}
