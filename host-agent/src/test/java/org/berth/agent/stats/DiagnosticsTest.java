package org.berth.agent.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.berth.agent.TestAgent;
import org.berth.agent.store.InstanceRecord;
import org.junit.jupiter.api.Test;

/** GET /v1/instances/{uuid}/diagnostics (Nova's 2.48 shape) and GET /v1/instances/stats. */
class DiagnosticsTest {
    private static final Duration BOUND = Duration.ofSeconds(10);

    private static Set<String> fields(JsonNode n) {
        Set<String> s = new TreeSet<>();
        n.fieldNames().forEachRemaining(s::add);
        return s;
    }

    @Test
    void diagnosticsInNovasShapeFromTheLastTwoSamples() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 1h\n")) {
            UUID u = MetricsExpositionTest.spawn(t, MetricsExpositionTest.spawnWithVif("web"));
            t.agent.stats().sampleNow(BOUND);
            Thread.sleep(50); // a measurable time between the two samples
            t.agent.stats().sampleNow(BOUND);
            TestAgent.Reply r = t.call("GET", "/v1/instances/" + u + "/diagnostics", null);
            assertEquals(200, r.status(), r.body());
            JsonNode d = r.json();
            assertEquals(Set.of("state", "driver", "hypervisor", "hypervisor_os", "uptime", "config_drive", "num_cpus",
                    "num_nics", "num_disks", "cpu_details", "nic_details", "disk_details", "memory_details"), fields(d));
            assertEquals("running", d.get("state").asText());
            assertEquals("fake", d.get("driver").asText());
            assertEquals("fake", d.get("hypervisor").asText(), "the driver's hypervisor type");
            assertEquals("linux", d.get("hypervisor_os").asText());
            assertTrue(d.get("uptime").isIntegralNumber() && d.get("uptime").asLong() >= 0, d.toString());
            assertTrue(d.get("config_drive").asBoolean(), "Nova's default: on");
            assertEquals(2, d.get("num_cpus").asInt());
            assertEquals(1, d.get("num_nics").asInt());
            assertEquals(1, d.get("num_disks").asInt());
            assertEquals(2, d.get("cpu_details").size());
            JsonNode cpu = d.get("cpu_details").get(1);
            assertEquals(Set.of("id", "time", "utilisation"), fields(cpu));
            assertEquals(1, cpu.get("id").asInt());
            assertTrue(cpu.get("time").asLong() >= 2_000_000_000L, cpu.toString());
            assertTrue(cpu.get("utilisation").isIntegralNumber(), "a rate from the last two samples: " + cpu);
            JsonNode nic = d.get("nic_details").get(0);
            assertEquals(Set.of("mac_address", "rx_octets", "rx_errors", "rx_drop", "rx_packets", "rx_rate",
                    "tx_octets", "tx_errors", "tx_drop", "tx_packets", "tx_rate"), fields(nic));
            assertEquals("fa:16:3e:00:00:01", nic.get("mac_address").asText());
            long n = d.get("disk_details").get(0).get("read_requests").asLong();
            assertEquals(1000 * n, nic.get("rx_octets").asLong());
            assertTrue(nic.get("rx_errors").isNull(), "not reported by the backend: null as Nova's None");
            assertEquals(0, nic.get("rx_drop").asLong());
            assertEquals(20 * n, nic.get("tx_packets").asLong());
            assertTrue(nic.get("rx_rate").asDouble() > 0 && nic.get("tx_rate").asDouble() > nic.get("rx_rate")
                    .asDouble(), "bytes/s between the samples: " + nic);
            assertTrue(nic.get("rx_rate").isIntegralNumber() && nic.get("tx_rate").isIntegralNumber(),
                    "Nova's NicDiagnostics declares the rates IntegerField: " + nic);
            JsonNode disk = d.get("disk_details").get(0);
            assertEquals(Set.of("read_bytes", "read_requests", "write_bytes", "write_requests", "errors_count"),
                    fields(disk));
            assertEquals(8192 * n, disk.get("write_bytes").asLong());
            assertEquals(Set.of("maximum", "used"), fields(d.get("memory_details")));
            assertEquals(256, d.at("/memory_details/maximum").asLong(), "MiB");
            assertEquals(128, d.at("/memory_details/used").asLong(), "MiB");
        }
    }

    @Test
    void withSamplingOnAnInstanceNotInTheSampleIs409WithRetryAfterAndNoDriverCall() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 90s\n")) {
            t.agent.stats().sampleNow(BOUND);
            UUID u = t.spawnAndWait("late");
            int calls = t.fake().statsThreads.size();
            for (int i = 0; i < 5; i++) {
                TestAgent.Reply r = t.call("GET", "/v1/instances/" + u + "/diagnostics", null);
                assertEquals(409, r.status(), r.body());
                assertEquals("not_reported", r.json().at("/error/rule").asText());
                assertEquals("uuid", r.json().at("/error/field").asText());
                assertTrue(r.json().at("/error/message").asText().contains("driver fake"), r.body());
                assertEquals("90", r.raw().headers().firstValue("retry-after").orElse(""), "one interval, in s");
            }
            assertEquals(calls, t.fake().statsThreads.size(), "no stats() on the request path while sampling");
            t.agent.stats().sampleNow(BOUND);
            TestAgent.Reply r = t.call("GET", "/v1/instances/" + u + "/diagnostics", null);
            assertEquals(200, r.status(), r.body());
            assertTrue(r.json().at("/cpu_details/0/utilisation").isNull(), "no rate from one sample");
            assertEquals(1, r.json().get("num_cpus").asInt());
        }
    }

    @Test
    void uptimeCountsFromTheLastStartedEventHoweverManyEventsFollowIt() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 1h\n")) {
            UUID u = t.spawnAndWait("busy");
            InstanceRecord r = t.agent.store().find(u).orElseThrow();
            Instant longAgo = Instant.now().minus(Duration.ofHours(2));
            t.agent.store().update(new InstanceRecord(r.uuid(), r.name(), r.driver(), r.specJson(), r.vcpus(),
                    r.memoryMb(), r.diskGb(), r.vmState(), r.powerState(), r.taskState(), r.backendId(), r.fault(),
                    longAgo, r.updatedAt(), r.migration()));
            t.agent.store().addEvent(u, null, "lifecycle", "STARTED");
            for (int i = 0; i < 250; i++) {
                t.agent.store().addEvent(u, "req-" + i, "action", "get_console_output");
            }
            Thread.sleep(1100); // so that "since the STARTED event" is at least a second
            t.agent.stats().sampleNow(BOUND);
            long uptime = t.call("GET", "/v1/instances/" + u + "/diagnostics", null).json().get("uptime").asLong();
            assertTrue(uptime >= 1 && uptime < 60, "since the STARTED event 250 events ago, not since the "
                    + "creation 2 h ago: " + uptime);
        }
    }

    @Test
    void unknownUuidIs404AndTheTokenIsRequired() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 1h\n")) {
            TestAgent.Reply r = t.call("GET", "/v1/instances/" + UUID.randomUUID() + "/diagnostics", null);
            assertEquals(404, r.status(), r.body());
            assertEquals("uuid", r.json().at("/error/field").asText());
            assertEquals("not_found", r.json().at("/error/rule").asText());
            assertEquals(400, t.call("GET", "/v1/instances/nope/diagnostics", null).status());
            assertEquals(405, t.call("POST", "/v1/instances/" + UUID.randomUUID() + "/diagnostics", "{}").status());
            UUID u = t.spawnAndWait("a");
            assertEquals(401, t.call("GET", "/v1/instances/" + u + "/diagnostics", null, "wrong").status());
            assertEquals(401, t.call("GET", "/v1/instances/stats", null, null).status());
            assertEquals(401, t.call("GET", "/metrics", null, null).status());
        }
    }

    @Test
    void theStatsListHasCountersAndRates() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 1h\n")) {
            TestAgent.Reply empty = t.call("GET", "/v1/instances/stats", null);
            assertEquals(200, empty.status(), empty.body());
            UUID u = MetricsExpositionTest.spawn(t, MetricsExpositionTest.spawnWithVif("web"));
            t.agent.stats().sampleNow(BOUND);
            Thread.sleep(50);
            t.agent.stats().sampleNow(BOUND);
            JsonNode s = t.call("GET", "/v1/instances/stats", null).json().get("stats");
            assertEquals(3600, s.get("interval_seconds").asDouble());
            assertTrue(s.get("sampled_at").isTextual());
            JsonNode drv = s.get("drivers").get(0);
            assertEquals("fake", drv.get("driver").asText());
            assertEquals(false, drv.get("stale").asBoolean());
            assertTrue(drv.get("previous_sampled_at").isTextual());
            assertEquals(1, s.get("instances").size());
            JsonNode i = s.get("instances").get(0);
            assertEquals(u.toString(), i.get("uuid").asText());
            assertEquals("web", i.get("name").asText());
            assertEquals("RUNNING", i.get("state").asText());
            assertEquals(List.of("uuid", "name", "driver", "state", "stale", "sampled_at", "vcpus", "cpu_time_ns",
                    "memory", "vifs", "disks", "rates"), java.util.stream.StreamSupport.stream(
                    ((Iterable<String>) i::fieldNames).spliterator(), false).toList());
            assertEquals(64L << 20, i.at("/memory/resident_bytes").asLong());
            assertTrue(i.at("/vifs/0/rx_errors").isNull());
            // a fake CPU second per vCPU per sample, over ~50 ms: far above 100 %; what counts is that it is there
            assertTrue(i.at("/rates/cpu_percent").asDouble() > 0, i.toString());
            assertTrue(i.at("/rates/tx_bytes_per_second").asDouble() > i.at("/rates/rx_bytes_per_second").asDouble());
            assertTrue(i.at("/rates/write_bytes_per_second").asDouble() > 0);
            assertTrue(i.at("/disks/0/allocation_bytes").isNull());
        }
    }
}
