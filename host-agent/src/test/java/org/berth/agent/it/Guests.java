package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.berth.agent.TestAgent;
import org.berth.agent.TestAgent.Reply;
import org.berth.lab.TestImages;

/**
 * The instances and ports a test creates through an {@link AgentProcess}: spawn bodies for a container and a VM
 * on br-int, and {@link #destroyAndCheck} that deletes them through the API and then asks the host whether
 * anything survived (falling back to removing leftovers directly, so a failing test still leaves the host clean).
 */
final class Guests {
    static final Duration SPAWN_LIMIT = Duration.ofSeconds(240);
    static final Duration DELETE_LIMIT = Duration.ofSeconds(180);

    final Set<UUID> instances = new LinkedHashSet<>();
    final Set<String> ports = new LinkedHashSet<>();
    final Set<String> images = new LinkedHashSet<>();

    /** The body of a test: what it does with the agent, the instances it tracks and its start time (for steps). */
    @FunctionalInterface
    interface Scenario {
        void run(AgentProcess agent, Guests guests, long t0) throws Exception;
    }

    /**
     * Starts an agent without periodic sweeps during the test (the host is shared: an adopted stranger would move
     * "claimed"; reconcile still runs at start), runs {@code scenario}, then destroys what it tracked and fails on
     * anything left, even when the scenario failed; prints the total time.
     */
    static void withAgent(String name, Guests guests, Scenario scenario) throws Exception {
        withAgent(name, guests, "", scenario);
    }

    /** As {@link #withAgent(String, Guests, Scenario)} with more agent options ({@code extraYaml}). */
    static void withAgent(String name, Guests guests, String extraYaml, Scenario scenario) throws Exception {
        long t0 = System.nanoTime();
        try (AgentProcess agent = AgentProcess.start("sync_power_state_interval: 1h\n" + extraYaml)) {
            try {
                scenario.run(agent, guests, t0);
            } finally {
                List<String> problems = guests.destroyAndCheck(agent);
                assertTrue(problems.isEmpty(), () -> "cleanup: " + problems + "\nagent log:\n" + agent.logTail(4000));
            }
        }
        System.out.printf("%s: total %.1f s%n", name, (System.nanoTime() - t0) / 1e9);
    }

    /** Prints a step with the seconds since {@code t0}. */
    static void step(String what, long t0) {
        System.out.printf("[%6.1f s] %s%n", (System.nanoTime() - t0) / 1e9, what);
    }

    /** A fresh port id, tracked. */
    String newPort() {
        String port = UUID.randomUUID().toString();
        ports.add(port);
        return port;
    }

    /** A random MAC fa:16:3e:NET:xx:xx ({@code net} is the third octet of the test's subnet, as written). */
    static String mac(String net) {
        return String.format("fa:16:3e:%s:%02x:%02x", net, ThreadLocalRandom.current().nextInt(256),
                ThreadLocalRandom.current().nextInt(256));
    }

    /** The id images/build.sh gave the busybox container image (looked up by name: ids follow Debian's bytes). */
    static String busybox() {
        return TestImages.id(TestImages.BUSYBOX);
    }

    /** The id of the guest kernel image (aki, with its ramdisk_id). */
    static String guestKernel() {
        return TestImages.id(TestImages.GUEST_KERNEL);
    }

    /** A VIF on br-int with a random port id and a fa:16:3e:22:xx:xx MAC; the port is tracked. */
    String vif(String cidr, String[] macOut) {
        String port = newPort();
        String mac = mac("22");
        macOut[0] = mac;
        String ips = cidr == null ? "" : ", \"ips\": [\"" + cidr + "\"]";
        return "{\"port_id\": \"" + port + "\", \"mac\": \"" + mac + "\", \"bridge\": \"br-int\"" + ips + "}";
    }

    String containerBody(UUID uuid, String imageId, String cidr) {
        instances.add(uuid);
        String vif = vif(cidr, new String[1]);
        return """
                {"driver": "docker", "uuid": "%s", "name": "it-c-%s", "image_id": "%s",
                 "flavor": {"name": "it.c", "vcpus": 1, "memory_mb": 128, "root_gb": 1}, "vifs": [%s]}
                """.formatted(uuid, uuid.toString().substring(0, 8), imageId, vif);
    }

    /** A VM booting the test kernel; the guest takes its address from its config drive's network_data.json. */
    String vmBody(UUID uuid, String kernelId, String cidr, String pingTarget) {
        instances.add(uuid);
        String vif = vif(cidr, new String[1]);
        String cmdline = "console=ttyS0" + (pingTarget == null ? "" : " berth.ping=" + pingTarget);
        return """
                {"driver": "kvm", "uuid": "%s", "name": "it-vm-%s", "image_id": "%s",
                 "flavor": {"name": "it.vm", "vcpus": 1, "memory_mb": 256, "root_gb": 1},
                 "properties": {"os_command_line": "%s"}, "vifs": [%s]}
                """.formatted(uuid, uuid.toString().substring(0, 8), kernelId, cmdline, vif);
    }

    /** POST /v1/instances; asserts 202 + Location and task_state spawning. */
    static UUID spawn(AgentProcess agent, String body) throws IOException, InterruptedException {
        Reply r = agent.call("POST", "/v1/instances", body);
        if (r.status() != 202) {
            fail("spawn answered " + r.status() + ": " + r.body());
        }
        UUID uuid = UUID.fromString(r.json().at("/instance/uuid").asText());
        assertEquals("/v1/instances/" + uuid, r.raw().headers().firstValue("Location").orElse(null));
        assertEquals("spawning", r.json().at("/instance/task_state").asText());
        return uuid;
    }

    /** The port ids of an instance's VIFs, as the agent recorded them. */
    static List<String> portsOf(JsonNode instance) {
        List<String> out = new ArrayList<>();
        instance.at("/spec/vifs").forEach(v -> out.add(v.get("port_id").asText()));
        return out;
    }

    /** Polls the console tail until it contains {@code marker} followed by a line end. */
    static String awaitConsole(AgentProcess agent, UUID uuid, String marker, Duration limit)
            throws IOException, InterruptedException {
        return Checks.awaitConsole("console of " + uuid, () -> {
            Reply r = agent.call("GET", "/v1/instances/" + uuid + "/console?bytes=65536", null);
            return r.status() == 200 ? new String(r.body().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8)
                    : null;
        }, marker, limit, 3000);
    }

    /**
     * Deletes every tracked instance through the API (if the agent runs), waits for 404, deletes tracked images,
     * then checks the host. Leftovers are removed directly and returned, so the caller can fail on them.
     */
    List<String> destroyAndCheck(AgentProcess agent) throws IOException, InterruptedException {
        List<String> problems = new ArrayList<>();
        if (agent != null && agent.alive()) {
            for (UUID uuid : instances) {
                Reply r = agent.call("DELETE", "/v1/instances/" + uuid, null);
                if (r.status() == 409) {
                    // a task still runs (e.g. the test failed mid-action): wait for it to end, then delete
                    agent.awaitInstance(uuid, DELETE_LIMIT, "idle", n -> n == null || n.get("task_state").isNull());
                    r = agent.call("DELETE", "/v1/instances/" + uuid, null);
                }
                if (r.status() != 202 && r.status() != 404) {
                    problems.add("DELETE " + uuid + " answered " + r.status() + ": " + r.body());
                }
            }
            for (UUID uuid : instances) {
                try {
                    agent.awaitInstance(uuid, DELETE_LIMIT, "deleted", n -> n == null);
                } catch (AssertionError e) {
                    problems.add(e.getMessage());
                }
            }
            for (String image : images) {
                Reply r = agent.call("DELETE", "/v1/images/" + image, null);
                if (r.status() != 204 && r.status() != 404) {
                    problems.add("DELETE image " + image + " answered " + r.status() + ": " + r.body());
                }
            }
        }
        List<String> leaks = Host.leftovers(instances, ports, agent == null ? null : agent.instancesPath);
        if (!leaks.isEmpty()) {
            Host.forceRemove(instances, ports);
            problems.add("left behind after delete: " + leaks);
        }
        return problems;
    }
}
