package org.berth.agent.api;

import java.util.List;
import java.util.Map;
import org.berth.agent.capacity.Capacity;
import org.berth.agent.driver.DriverState;
import org.berth.agent.placement.ReportState;
import org.berth.agent.task.OperationStats;

/** Prometheus text exposition format 0.0.4. */
final class MetricsText {
    private final StringBuilder out = new StringBuilder();

    static String render(Map<List<String>, Integer> instances, Capacity capacity, List<DriverState> drivers,
                         Map<String, OperationStats.Snapshot> ops, Map<String, Long> http, int tasksRunning,
                         long sweeps, ReportState placement, boolean disabled, int consoleSessions) {
        MetricsText m = new MetricsText();
        m.help("berth_instances", "gauge", "Instances in the store by driver and vm_state.");
        instances.forEach((k, v) -> m.line("berth_instances{driver=\"" + esc(k.get(0)) + "\",state=\""
                + k.get(1).toLowerCase(java.util.Locale.ROOT) + "\"}", v));
        m.help("berth_driver_available", "gauge", "1 when the driver is connected.");
        drivers.forEach(d -> m.line("berth_driver_available{driver=\"" + esc(d.name()) + "\"}", d.available() ? 1 : 0));
        m.help("berth_tasks_running", "gauge", "Instance tasks running now.");
        m.line("berth_tasks_running", tasksRunning);
        m.help("berth_reconcile_sweeps_total", "counter", "Reconcile sweeps run to their end since start.");
        m.line("berth_reconcile_sweeps_total", sweeps);
        for (String r : List.of("vcpus", "memory_mb", "disk_gb")) {
            m.help("berth_capacity_" + r, "gauge", "Host " + r + ": total (raw), limit (after ratios), claimed, free.");
            m.line("berth_capacity_" + r + "{kind=\"total\"}", switch (r) {
                case "vcpus" -> capacity.totals().vcpus();
                case "memory_mb" -> capacity.totals().memoryMb();
                default -> capacity.totals().localGb();
            });
            for (var e : Map.of("limit", capacity.limits(), "claimed", capacity.claimed(), "free", capacity.free(),
                    "driver_used", capacity.driverUsed()).entrySet()) {
                Capacity.Resources x = e.getValue();
                m.line("berth_capacity_" + r + "{kind=\"" + e.getKey() + "\"}",
                        r.equals("vcpus") ? x.vcpus() : r.equals("memory_mb") ? x.memoryMb() : x.diskGb());
            }
        }
        m.help("berth_console_sessions", "gauge", "Interactive console and exec sessions open now.");
        m.line("berth_console_sessions", consoleSessions);
        m.help("berth_host_disabled", "gauge", "1 while the host is disabled (berth host disable).");
        m.line("berth_host_disabled", disabled ? 1 : 0);
        if (!placement.state().equals("disabled")) {
            m.help("berth_placement_up", "gauge", "1 when the last report to Placement succeeded.");
            m.line("berth_placement_up", placement.state().equals("ok") ? 1 : 0);
            m.help("berth_placement_last_success_timestamp_seconds", "gauge", "When Placement last matched the store.");
            m.line("berth_placement_last_success_timestamp_seconds",
                    placement.lastSuccess() == null ? 0 : placement.lastSuccess().getEpochSecond());
            m.help("berth_placement_behind_seconds", "gauge", "How long Placement has not matched the store.");
            m.line("berth_placement_behind_seconds", placement.behindSeconds());
            m.help("berth_placement_pending_changes", "gauge", "Instance allocations not yet written to Placement.");
            m.line("berth_placement_pending_changes", placement.pendingChanges());
            m.help("berth_placement_syncs_total", "counter", "Full syncs with Placement run to their end.");
            m.line("berth_placement_syncs_total", placement.syncs());
            m.help("berth_placement_requests_total", "counter", "Requests sent to Placement (read = GET).");
            m.line("berth_placement_requests_total{kind=\"read\"}", placement.reads());
            m.line("berth_placement_requests_total{kind=\"write\"}", placement.writes());
        }
        m.help("berth_operation_seconds", "summary", "Driver operation latency.");
        ops.forEach((k, s) -> {
            String[] p = k.split("\u0000", 2);
            String labels = "{driver=\"" + esc(p[0]) + "\",operation=\"" + esc(p[1]) + "\"}";
            m.line("berth_operation_seconds_count" + labels, s.count());
            m.out.append("berth_operation_seconds_sum").append(labels).append(' ').append(s.seconds()).append('\n');
            m.line("berth_operation_failures_total" + labels, s.failures());
        });
        m.help("berth_http_requests_total", "counter", "HTTP requests answered.");
        http.forEach((k, v) -> {
            String[] p = k.split(" ", 2);
            m.line("berth_http_requests_total{method=\"" + p[0] + "\",code=\"" + p[1] + "\"}", v);
        });
        return m.out.toString();
    }

    private void help(String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private void line(String name, long value) {
        out.append(name).append(' ').append(value).append('\n');
    }

    private static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
