package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.agent.TestAgent.Reply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 18 acceptance: per-instance meters of both drivers, sampled by a real agent and scraped by a real Prometheus
 * (Debian's, started by scripts/prometheus.sh on loopback with the agent's bearer token); PromQL over what Prometheus
 * stored is the oracle. A busy container's CPU rate is about one CPU and an idle one's near zero; a busy VM's is over
 * half a CPU; a bounded ping between a container and the VM moves both instances' byte counters by the ping's
 * bytes, as OVS counts them too; a container writing 50 MB moves its disk write counter by that much; diagnostics
 * of both kinds in Nova's shape, 404 for an unknown uuid.
 */
class TelemetryTest {
    private static final String NET = "198.18.24.";
    /** The agent samples every 2 s and Prometheus scrapes every 2 s: a rate over [30s] has 15 points. */
    private static final String AGENT_YAML = "instance_stats_interval: 2s\n";
    private static final Duration LOAD_WAIT = Duration.ofSeconds(150);
    private static final int PINGS = 100;
    private static final int PING_SIZE = 1000;
    /** One echo request or reply on the wire as Linux counts it: payload + ICMP 8 + IPv4 20 + Ethernet 14. */
    private static final long FRAME = PING_SIZE + 8 + 20 + 14;
    /** The busy VM also serves a 4 MiB blob over HTTP (berth.serve): one-way traffic tells rx from tx. */
    private static final int SERVE_PORT = 8080;
    private static final long BLOB = 4L << 20;

    @Test
    @Timeout(900)
    void prometheusScrapesTheInstancesMeters() throws Exception {
        Guests.withAgent("TelemetryTest", new Guests(), AGENT_YAML, TelemetryTest::run);
    }

    private static void run(AgentProcess agent, Guests guests, long t0) throws Exception {
        try (PrometheusServer prom = PrometheusServer.scraping(agent)) {
            Guests.step("Prometheus at " + prom.url + " scrapes the agent", t0);
            UUID busy = spawnContainer(agent, guests, "busy", NET + "10/24", true);
            UUID idle = spawnContainer(agent, guests, "idle", NET + "11/24", false);
            Guests.step("busy and idle containers RUNNING", t0);
            double busyRate = awaitRate(prom, busy, r -> r >= 0.8 && r <= 1.2, "a busy container's CPU rate 0.8-1.2");
            double idleRate = rate(prom, idle).orElseThrow(() -> new AssertionError("no CPU rate of the idle container"));
            assertTrue(idleRate < 0.1, "an idle container's CPU rate is below 0.1: " + idleRate);
            Guests.step(String.format(Locale.ROOT, "CPU rate in Prometheus: busy container %.2f, idle %.3f",
                    busyRate, idleRate), t0);
            // the busy container has shown its rate: powered off, it leaves the CPUs to the busy VM
            assertEquals(202, agent.call("POST", "/v1/instances/" + busy + "/action", "{\"os-stop\": null}").status());

            UUID vm = spawnBusyVm(agent, guests, NET + "30/24");
            Guests.awaitConsole(agent, vm, "BERTH-GUEST-READY", Duration.ofSeconds(180));
            double vmRate = awaitRate(prom, vm, r -> r > 0.5, "a busy VM's CPU rate above 0.5");
            Guests.step(String.format(Locale.ROOT, "CPU rate in Prometheus: busy VM %.2f", vmRate), t0);

            pingFlood(agent, prom, idle, vm, NET + "30", t0);
            download(prom, idle, vm, NET + "30", t0);
            diskWrite(prom, idle, t0);
            diagnostics(agent, vm, "kvm");
            diagnostics(agent, idle, "docker");
            assertEquals(404, agent.call("GET", "/v1/instances/" + UUID.randomUUID() + "/diagnostics", null).status(),
                    "diagnostics of an unknown uuid");
            Guests.step("diagnostics of the VM and the container; 404 for an unknown uuid", t0);
            assertTrue(prom.targetHealth().startsWith("up"), "Prometheus scraped with the token all along");
        }
    }

    private static UUID spawnContainer(AgentProcess agent, Guests guests, String role, String cidr, boolean busy)
            throws Exception {
        UUID uuid = UUID.randomUUID();
        guests.instances.add(uuid);
        String body = """
                {"driver": "docker", "uuid": "%s", "name": "it-tm-%s", "image_id": "%s",
                 "flavor": {"name": "it.c", "vcpus": 1, "memory_mb": 128, "root_gb": 1}, "vifs": [%s]%s}
                """.formatted(uuid, role, Guests.busybox(), guests.vif(cidr, new String[1]),
                busy ? ", \"metadata\": {\"busy\": \"1\"}" : "");
        Guests.spawn(agent, body);
        agent.awaitRunning(uuid, Guests.SPAWN_LIMIT);
        return uuid;
    }

    private static UUID spawnBusyVm(AgentProcess agent, Guests guests, String cidr) throws Exception {
        UUID uuid = UUID.randomUUID();
        guests.instances.add(uuid);
        String body = """
                {"driver": "kvm", "uuid": "%s", "name": "it-tm-vm", "image_id": "%s",
                 "flavor": {"name": "it.vm", "vcpus": 1, "memory_mb": 256, "root_gb": 1},
                 "properties": {"os_command_line": "console=ttyS0 berth.serve=%d"}, "vifs": [%s], "metadata": {"busy": "1"}}
                """.formatted(uuid, Guests.guestKernel(), SERVE_PORT, guests.vif(cidr, new String[1]));
        Guests.spawn(agent, body);
        agent.awaitRunning(uuid, Guests.SPAWN_LIMIT);
        return uuid;
    }

    private static Optional<Double> rate(PrometheusServer prom, UUID uuid) throws Exception {
        Map<String, Double> r = prom.query("rate(berth_instance_cpu_seconds_total{uuid=\"" + uuid + "\"}[30s])");
        return r.values().stream().findFirst();
    }

    /**
     * Polls the CPU rate until 30 s of scrapes back it and {@code ok} holds; fails with every value seen. The rate
     * of a window that began before the load did is lower: polling waits for a window inside it.
     */
    private static double awaitRate(PrometheusServer prom, UUID uuid, java.util.function.DoublePredicate ok,
                                    String rule) throws Exception {
        long deadline = System.nanoTime() + LOAD_WAIT.toNanos();
        StringBuilder seen = new StringBuilder();
        while (System.nanoTime() < deadline) {
            Map<String, Double> points = prom.query(
                    "count_over_time(berth_instance_cpu_seconds_total{uuid=\"" + uuid + "\"}[30s])");
            Optional<Double> r = rate(prom, uuid);
            if (r.isPresent()) {
                seen.append(String.format(Locale.ROOT, " %.2f", r.get()));
                boolean full = points.values().stream().anyMatch(n -> n >= 14);
                if (full && ok.test(r.get())) {
                    return r.get();
                }
            }
            Thread.sleep(2000);
        }
        return fail(rule + ": rates seen in Prometheus over " + LOAD_WAIT.toSeconds() + " s:" + seen);
    }

    /** The value of one series of {@code metric} for the instance, summed over its devices. */
    private static long counter(PrometheusServer prom, String metric, UUID uuid) throws Exception {
        Map<String, Double> r = prom.query("sum(" + metric + "{uuid=\"" + uuid + "\"})");
        return r.values().stream().findFirst().map(Double::longValue)
                .orElseThrow(() -> new AssertionError("Prometheus has no " + metric + " of " + uuid));
    }

    /**
     * Waits until Prometheus holds a sample newer than {@code after} (epoch seconds) of the instance's counters: two
     * agent samples and a scrape.
     */
    private static void awaitFreshSample(PrometheusServer prom, UUID uuid, double after) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            Map<String, Double> t = prom.query("timestamp(berth_instance_cpu_seconds_total{uuid=\"" + uuid + "\"})");
            // the agent's sample of the moment, not Prometheus' scrape time: the agent's own timestamp gauge
            Map<String, Double> s = prom.query("berth_instance_stats_last_sample_timestamp_seconds");
            if (!t.isEmpty() && s.values().stream().allMatch(v -> v > after + 1)) {
                return;
            }
            Thread.sleep(1000);
        }
        fail("no fresh sample of " + uuid + " in Prometheus within 30 s");
    }

    private static void pingFlood(AgentProcess agent, PrometheusServer prom, UUID container, UUID vm, String vmIp,
                                  long t0) throws Exception {
        Checks.awaitPing(container, vmIp, Duration.ofSeconds(60));
        String cPort = Guests.portsOf(agent.instance(container)).get(0);
        String vPort = Guests.portsOf(agent.instance(vm)).get(0);
        awaitFreshSample(prom, vm, System.currentTimeMillis() / 1000.0);
        long cTx0 = counter(prom, "berth_instance_network_transmit_bytes_total", container);
        long cRx0 = counter(prom, "berth_instance_network_receive_bytes_total", container);
        long vTx0 = counter(prom, "berth_instance_network_transmit_bytes_total", vm);
        long vRx0 = counter(prom, "berth_instance_network_receive_bytes_total", vm);
        long cOvsRx0 = ovsStat(cPort, "rx_bytes");
        long vOvsTx0 = ovsStat(vPort, "tx_bytes");
        var ping = Host.run("docker", "exec", Host.backendName(container), "ping", "-q", "-c", Integer.toString(PINGS),
                "-s", Integer.toString(PING_SIZE), "-i", "0.1", "-W", "2", vmIp);
        assertTrue(ping.ok() && ping.stdout().contains(PINGS + " packets received"),
                () -> "the bounded ping: " + ping.stdout() + ping.stderr());
        awaitFreshSample(prom, vm, System.currentTimeMillis() / 1000.0);
        long expected = PINGS * FRAME;
        long cTx = counter(prom, "berth_instance_network_transmit_bytes_total", container) - cTx0;
        long cRx = counter(prom, "berth_instance_network_receive_bytes_total", container) - cRx0;
        long vTx = counter(prom, "berth_instance_network_transmit_bytes_total", vm) - vTx0;
        long vRx = counter(prom, "berth_instance_network_receive_bytes_total", vm) - vRx0;
        // ovs-vswitchd writes Interface statistics to its database every 5 s (other_config:stats-update-interval)
        long cOvsRx = 0;
        long vOvsTx = 0;
        for (long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos(); System.nanoTime() < deadline; ) {
            cOvsRx = ovsStat(cPort, "rx_bytes") - cOvsRx0;
            vOvsTx = ovsStat(vPort, "tx_bytes") - vOvsTx0;
            if (cOvsRx >= expected && vOvsTx >= expected) {
                break;
            }
            Thread.sleep(1000);
        }
        String all = String.format(Locale.ROOT, "expected %d; container tx %d rx %d, VM tx %d rx %d; OVS: the "
                + "container's port received %d, the VM's port sent %d", expected, cTx, cRx, vTx, vRx, cOvsRx, vOvsTx);
        for (long got : new long[] {cTx, cRx, vTx, vRx}) {
            assertTrue(Math.abs(got - expected) <= expected / 10, "the ping's bytes within 10%: " + all);
        }
        // OVS counts from the switch's side: what its port of the container received, the container sent
        assertTrue(Math.abs(cTx - cOvsRx) <= expected / 10, "container tx matches OVS: " + all);
        assertTrue(Math.abs(vRx - vOvsTx) <= expected / 10, "VM rx matches OVS: " + all);
        Guests.step("ping of " + PINGS + " x " + PING_SIZE + " bytes: " + all, t0);
    }

    /**
     * The container fetches the VM's 4 MiB blob over TCP (busybox nc, HTTP/1.0): the bytes flow one way, so the
     * counters must say which instance received them. Each side's figure matches the other's and OVS's, directionally.
     */
    private static void download(PrometheusServer prom, UUID container, UUID vm, String vmIp, long t0)
            throws Exception {
        awaitFreshSample(prom, vm, System.currentTimeMillis() / 1000.0);
        long cRx0 = counter(prom, "berth_instance_network_receive_bytes_total", container);
        long cTx0 = counter(prom, "berth_instance_network_transmit_bytes_total", container);
        long vTx0 = counter(prom, "berth_instance_network_transmit_bytes_total", vm);
        long vRx0 = counter(prom, "berth_instance_network_receive_bytes_total", vm);
        var get = Host.run("docker", "exec", Host.backendName(container), "sh", "-c",
                "printf 'GET /blob HTTP/1.0\\r\\n\\r\\n' | nc " + vmIp + " " + SERVE_PORT + " | wc -c");
        assertTrue(get.ok(), () -> "the download: " + get.stderr());
        long got = Long.parseLong(get.stdout().strip());
        assertTrue(got > BLOB, () -> "the container received the blob and its headers: " + got + " bytes");
        awaitFreshSample(prom, vm, System.currentTimeMillis() / 1000.0);
        long cRx = counter(prom, "berth_instance_network_receive_bytes_total", container) - cRx0;
        long cTx = counter(prom, "berth_instance_network_transmit_bytes_total", container) - cTx0;
        long vTx = counter(prom, "berth_instance_network_transmit_bytes_total", vm) - vTx0;
        long vRx = counter(prom, "berth_instance_network_receive_bytes_total", vm) - vRx0;
        String all = String.format(Locale.ROOT, "blob %d; container rx %d tx %d, VM tx %d rx %d", BLOB, cRx, cTx,
                vTx, vRx);
        // TCP/IP/Ethernet headers add under 10% to segments of about 1400 bytes
        assertTrue(cRx >= BLOB && cRx <= BLOB * 11 / 10, "the container received the blob (rx): " + all);
        assertTrue(vTx >= BLOB && vTx <= BLOB * 11 / 10, "the VM sent the blob (tx): " + all);
        assertTrue(cTx < cRx / 5 && vRx < vTx / 5, "acknowledgements only the other way: " + all);
        // within 5%: the VM's retransmissions of segments the busy host's userspace switch dropped count on its side
        assertTrue(Math.abs(cRx - vTx) <= BLOB / 20, "what one sent, the other received: " + all);
        Guests.step("4 MiB over TCP from the VM to the container: " + all, t0);
    }

    /** A statistics key of the OVS Interface of this port (ovs-vsctl, by iface-id). */
    private static long ovsStat(String portId, String key) {
        var r = Host.run("ovs-vsctl", "--timeout=10", "--bare", "--columns=statistics", "find", "Interface",
                "external_ids:iface-id=" + portId);
        assertTrue(r.ok(), () -> "ovs-vsctl find: " + r.stderr());
        for (String kv : r.stdout().strip().split("[ ,]+")) {
            if (kv.startsWith(key + "=")) {
                return Long.parseLong(kv.substring(key.length() + 1));
            }
        }
        return fail("OVS Interface of port " + portId + " has no " + key + ": " + r.stdout());
    }

    private static void diskWrite(PrometheusServer prom, UUID container, long t0) throws Exception {
        awaitFreshSample(prom, container, System.currentTimeMillis() / 1000.0);
        // a container that has not written yet has no device in its blkio/io.stat, hence no series: zero so far
        long before = prom.query("sum(berth_instance_disk_written_bytes_total{uuid=\"" + container + "\"})").values()
                .stream().findFirst().map(Double::longValue).orElse(0L);
        var dd = Host.run("docker", "exec", Host.backendName(container), "dd", "if=/dev/zero", "of=/berth-50m",
                "bs=1048576", "count=50", "conv=fsync");
        assertTrue(dd.ok(), () -> "dd in the container: " + dd.stderr());
        awaitFreshSample(prom, container, System.currentTimeMillis() / 1000.0);
        long grew = counter(prom, "berth_instance_disk_written_bytes_total", container) - before;
        assertTrue(grew >= 50L << 20, "a container writing 50 MB: its disk write bytes grew by " + grew);
        Guests.step("container wrote 50 MiB: disk written bytes +" + grew, t0);
        Host.run("docker", "exec", Host.backendName(container), "rm", "-f", "/berth-50m");
    }

    private static void diagnostics(AgentProcess agent, UUID uuid, String driver) throws Exception {
        Reply r = agent.call("GET", "/v1/instances/" + uuid + "/diagnostics", null);
        assertEquals(200, r.status(), () -> "diagnostics of " + uuid + ": " + r.body());
        JsonNode d = r.json();
        for (String f : new String[] {"state", "driver", "hypervisor", "uptime", "cpu_details", "nic_details",
                "disk_details", "memory_details", "num_cpus", "num_nics", "num_disks", "config_drive"}) {
            assertTrue(d.has(f), () -> "diagnostics has " + f + ": " + d);
        }
        assertEquals("running", d.get("state").asText(), () -> "diagnostics state: " + d);
        assertEquals(driver, d.get("driver").asText(), () -> "diagnostics driver: " + d);
        assertEquals(1, d.get("nic_details").size(), () -> "one NIC: " + d);
        JsonNode nic = d.at("/nic_details/0");
        assertTrue(nic.get("rx_octets").asLong() > 0 && nic.get("tx_octets").asLong() > 0,
                () -> "the ping's traffic in nic_details: " + d);
        assertTrue(d.get("num_cpus").asInt() >= 1, () -> "num_cpus: " + d);
        assertTrue(d.at("/memory_details/maximum").asLong() > 0, () -> "memory maximum: " + d);
        assertTrue(d.get("uptime").asLong() >= 0, () -> "uptime: " + d);
    }
}
