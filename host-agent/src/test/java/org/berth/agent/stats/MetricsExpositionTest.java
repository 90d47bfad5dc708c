package org.berth.agent.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.berth.agent.TestAgent;
import org.junit.jupiter.api.Test;

/** /metrics parsed back: per-instance meters from the last sample, and the agent-level metrics as before. */
class MetricsExpositionTest {
    private static final Pattern SAMPLE = Pattern.compile("^([a-z_]+)(\\{(.*)})? (\\S+)$");
    static final String PORT = "11111111-2222-3333-4444-555555555555";

    /** Every sample line: "name{labels}" (labels as written) → value. */
    static Map<String, Double> parse(String text) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), "a sample line: " + line);
            assertFalse(out.containsKey(m.group(1) + (m.group(2) == null ? "" : m.group(2))), "unique: " + line);
            out.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(4)));
        }
        return out;
    }

    static String spawnWithVif(String name) {
        return """
                {"driver": "fake", "name": "%s", "image_id": "%s",
                 "flavor": {"name": "m1.test", "vcpus": 2, "memory_mb": 256, "root_gb": 1},
                 "vifs": [{"port_id": "%s", "mac": "fa:16:3e:00:00:01"}]}
                """.formatted(name, TestAgent.IMAGE_ID, PORT);
    }

    static UUID spawn(TestAgent t, String body) throws Exception {
        TestAgent.Reply r = t.call("POST", "/v1/instances", body);
        assertEquals(202, r.status(), r.body());
        UUID uuid = UUID.fromString(r.json().at("/instance/uuid").asText());
        t.awaitInstance(uuid, i -> i.get("task_state").isNull());
        return uuid;
    }

    @Test
    void perInstanceMetersFromTheLastSampleWithIncusNamesAndOurLabels() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 1h\n")) {
            UUID u = spawn(t, spawnWithVif("web-1"));
            t.agent.stats().sampleNow(Duration.ofSeconds(10));
            t.agent.stats().sampleNow(Duration.ofSeconds(10));
            TestAgent.Reply r = t.call("GET", "/metrics", null);
            assertEquals(200, r.status());
            assertEquals("text/plain; version=0.0.4; charset=utf-8", r.raw().headers().firstValue("content-type")
                    .orElse(""));
            Map<String, Double> m = parse(r.body());
            String l = "{driver=\"fake\",name=\"web-1\",uuid=\"" + u + "\"}";
            String vif = "{device=\"tapfake0\",driver=\"fake\",name=\"web-1\",uuid=\"" + u + "\"}";
            String vda = "{device=\"vda\",driver=\"fake\",name=\"web-1\",uuid=\"" + u + "\"}";
            // the fake's nth sample: n reads, n s of CPU per vCPU (FakeDriver.statsOf)
            double n = m.get("berth_instance_disk_reads_completed_total" + vda);
            assertTrue(n >= 2, "at least the two samples taken here: " + n);
            assertEquals(2 * n, m.get("berth_instance_cpu_seconds_total" + l));
            assertEquals(2, m.get("berth_instance_vcpus" + l));
            assertEquals(128 << 20, m.get("berth_instance_memory_used_bytes" + l));
            assertEquals(64 << 20, m.get("berth_instance_memory_resident_bytes" + l));
            assertEquals(256 << 20, m.get("berth_instance_memory_limit_bytes" + l));
            assertEquals(1000 * n, m.get("berth_instance_network_receive_bytes_total" + vif));
            assertEquals(10 * n, m.get("berth_instance_network_receive_packets_total" + vif));
            assertEquals(0, m.get("berth_instance_network_receive_drop_total" + vif));
            assertEquals(2000 * n, m.get("berth_instance_network_transmit_bytes_total" + vif));
            assertEquals(20 * n, m.get("berth_instance_network_transmit_packets_total" + vif));
            assertEquals(0, m.get("berth_instance_network_transmit_errs_total" + vif));
            assertEquals(4096 * n, m.get("berth_instance_disk_read_bytes_total" + vda));
            assertEquals(8192 * n, m.get("berth_instance_disk_written_bytes_total" + vda));
            assertEquals(2 * n, m.get("berth_instance_disk_writes_completed_total" + vda));
            assertEquals(1L << 30, m.get("berth_instance_disk_capacity_bytes" + vda));
            // unknown figures are left out, never 0
            assertFalse(m.containsKey("berth_instance_network_receive_errs_total" + vif));
            assertFalse(m.containsKey("berth_instance_network_transmit_drop_total" + vif));
            assertFalse(m.containsKey("berth_instance_disk_allocation_bytes" + vda));
            double at = m.get("berth_instance_stats_last_sample_timestamp_seconds{driver=\"fake\"}");
            assertTrue(Math.abs(at - System.currentTimeMillis() / 1e3) < 60, "a Unix time: " + at);
            assertTrue(m.get("berth_instance_stats_sample_seconds{driver=\"fake\"}") >= 0);
            assertEquals(0, m.get("berth_instance_stats_stale{driver=\"fake\"}"));
            assertTrue(r.body().contains("# TYPE berth_instance_cpu_seconds_total counter\n"), r.body());
            assertTrue(r.body().contains("# TYPE berth_instance_memory_used_bytes gauge\n"), r.body());
            Set<String> instanceNames = m.keySet().stream().filter(k -> k.startsWith("berth_instance_"))
                    .map(k -> k.replaceAll("\\{.*", "")).collect(Collectors.toCollection(java.util.TreeSet::new));
            assertEquals(Set.of("berth_instance_cpu_seconds_total", "berth_instance_vcpus",
                    "berth_instance_memory_used_bytes", "berth_instance_memory_resident_bytes",
                    "berth_instance_memory_limit_bytes", "berth_instance_network_receive_bytes_total",
                    "berth_instance_network_receive_packets_total", "berth_instance_network_receive_drop_total",
                    "berth_instance_network_transmit_bytes_total", "berth_instance_network_transmit_packets_total",
                    "berth_instance_network_transmit_errs_total", "berth_instance_disk_read_bytes_total",
                    "berth_instance_disk_reads_completed_total", "berth_instance_disk_written_bytes_total",
                    "berth_instance_disk_writes_completed_total", "berth_instance_disk_capacity_bytes",
                    "berth_instance_stats_sample_seconds", "berth_instance_stats_last_sample_timestamp_seconds",
                    "berth_instance_stats_stale"), instanceNames);
        }
    }

    /** The value of label {@code label} in a sample line, unescaped as Prometheus' text format says. */
    static String labelValue(String line, String label) {
        int i = line.indexOf(label + "=\"");
        assertTrue(i >= 0, label + " in " + line);
        StringBuilder v = new StringBuilder();
        for (int j = i + label.length() + 2; ; j++) {
            char c = line.charAt(j);
            if (c == '"') {
                return v.toString();
            }
            if (c == '\\') {
                char e = line.charAt(++j);
                v.append(switch (e) {
                    case 'n' -> '\n';
                    case '\\' -> '\\';
                    case '"' -> '"';
                    default -> throw new AssertionError("unknown escape \\" + e + " in " + line);
                });
            } else {
                assertTrue(c != '\n', "a raw newline in a label value");
                v.append(c);
            }
        }
    }

    @Test
    void anInstanceNameWithQuoteBackslashAndNewlineIsEscapedAndParsesBack() throws Exception {
        // the API refuses such a name (Check.name); the store's name is what /metrics joins in, so set it there
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 1h\n")) {
            UUID u = t.spawnAndWait("plain");
            String odd = "we\"ird\\na\nme";
            var r = t.agent.store().find(u).orElseThrow();
            t.agent.store().update(new org.berth.agent.store.InstanceRecord(r.uuid(), odd, r.driver(), r.specJson(),
                    r.vcpus(), r.memoryMb(), r.diskGb(), r.vmState(), r.powerState(), r.taskState(), r.backendId(),
                    r.fault(), r.createdAt(), r.updatedAt(), r.migration()));
            t.agent.stats().sampleNow(Duration.ofSeconds(10));
            String body = t.call("GET", "/metrics", null).body();
            String line = java.util.Arrays.stream(body.split("\n"))
                    .filter(l -> l.startsWith("berth_instance_cpu_seconds_total{")).findFirst().orElseThrow();
            assertTrue(line.contains("name=\"we\\\"ird\\\\na\\nme\""), "escaped: " + line);
            assertEquals(odd, labelValue(line, "name"), "parses back to the name");
            assertEquals(u.toString(), labelValue(line, "uuid"));
            assertTrue(line.matches("berth_instance_cpu_seconds_total\\{.*} \\S+"), "one line: " + line);
        }
    }

    @Test
    void theStalenessBoundTakesEffectAtAScrapeWithoutANewSample() throws Exception {
        // a sampler that is never started: no round runs on its own, as when a hung call holds the sampler thread
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 0\n");
             StatsSampler s = new StatsSampler(Duration.ofSeconds(2), Duration.ofSeconds(1), t.agent.drivers(),
                     t.agent.store())) {
            t.spawnAndWait("a");
            s.sampleNow(Duration.ofSeconds(10));
            t.fake().statsFailure = new org.berth.driver.api.DriverException.BackendUnavailable("fake backend",
                    "gone", null);
            s.sampleNow(Duration.ofSeconds(10));
            StatsSnapshot stale = s.current();
            InstanceMetrics im = new InstanceMetrics(s);
            var exposition = new org.berth.agent.metrics.Exposition().registerPerSample(im, im::exportKey);
            exposition.prepare();
            String before = new String(exposition.scrape(), java.nio.charset.StandardCharsets.UTF_8);
            long sinceGood = System.currentTimeMillis() - stale.drivers().get("fake").last().at().toEpochMilli();
            // the bound is 3 intervals (6 s): the first scrape comes well within it, even on a loaded machine
            assertTrue(sinceGood < 5500, "the first scrape came " + sinceGood + " ms after the good sample");
            assertTrue(before.contains("berth_instance_cpu_seconds_total{"), before);
            Thread.sleep(6200 - sinceGood);
            String after = new String(exposition.scrape(), java.nio.charset.StandardCharsets.UTF_8);
            org.junit.jupiter.api.Assertions.assertSame(stale, s.current(), "no new sample meanwhile");
            assertFalse(after.contains("berth_instance_cpu_seconds_total{"), "left out past 3 intervals: " + after);
            assertTrue(after.contains("berth_instance_stats_stale{driver=\"fake\"} 1"), after);
            t.fake().statsFailure = null;
        }
    }

    @Test
    void theAgentLevelMetricsKeepTheirNamesLabelsAndIntegerValues() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\n")) {
            t.spawnAndWait("a");
            String body = t.call("GET", "/metrics", null).body();
            Map<String, Double> m = parse(body);
            assertEquals(1, m.get("berth_instances{driver=\"fake\",state=\"active\"}"));
            assertEquals(1, m.get("berth_driver_available{driver=\"fake\"}"));
            assertEquals(0, m.get("berth_tasks_running"));
            assertTrue(m.get("berth_reconcile_sweeps_total") >= 1);
            assertEquals(8, m.get("berth_capacity_vcpus{kind=\"total\"}"));
            assertEquals(128, m.get("berth_capacity_vcpus{kind=\"limit\"}"), "8 x cpu_allocation_ratio 16");
            assertEquals(1, m.get("berth_capacity_vcpus{kind=\"claimed\"}"), "the store's claims, now");
            assertEquals(127, m.get("berth_capacity_vcpus{kind=\"free\"}"));
            assertTrue(m.containsKey("berth_capacity_memory_mb{kind=\"driver_used\"}"));
            assertTrue(m.containsKey("berth_capacity_disk_gb{kind=\"total\"}"));
            assertEquals(0, m.get("berth_console_sessions"));
            assertEquals(0, m.get("berth_host_disabled"));
            assertEquals(1, m.get("berth_operation_seconds_count{driver=\"fake\",operation=\"spawn\"}"));
            assertTrue(m.containsKey("berth_operation_seconds_sum{driver=\"fake\",operation=\"spawn\"}"));
            assertEquals(0, m.get("berth_operation_failures_total{driver=\"fake\",operation=\"spawn\"}"));
            assertTrue(m.get("berth_http_requests_total{code=\"202\",method=\"POST\"}") >= 1);
            assertFalse(body.contains("berth_placement_up"), "no Placement configured");
            // whole numbers as integers, as /metrics always wrote them (scripts grep these lines)
            assertTrue(body.contains("\nberth_console_sessions 0\n"), body);
            assertTrue(body.contains("\nberth_host_disabled 0\n"), body);
            assertTrue(body.matches("(?s).*\nberth_reconcile_sweeps_total [1-9]\\d*\n.*"), body);
            assertTrue(body.contains("# TYPE berth_operation_seconds summary\n"), body);
        }
    }

    @Test
    void aDriverWithoutTheCapabilityHasNoMetersAndItsDiagnosticsAre501() throws Exception {
        try (TestAgent t = new TestAgent("instance_stats_interval: 1h\ndrivers: {fake: {options: {stats: false}}}\n")) {
            UUID u = t.spawnAndWait("a");
            t.agent.stats().sampleNow(Duration.ofSeconds(10));
            assertTrue(t.agent.stats().current().drivers().isEmpty());
            assertFalse(t.call("GET", "/metrics", null).body().contains("berth_instance_"));
            TestAgent.Reply d = t.call("GET", "/v1/instances/" + u + "/diagnostics", null);
            assertEquals(501, d.status(), d.body());
            assertEquals("capability_missing", d.json().at("/error/rule").asText());
            assertTrue(d.json().at("/error/message").asText().contains("INSTANCE_STATS"), d.body());
            assertEquals(0, t.fake().statsThreads.size());
        }
    }
}
