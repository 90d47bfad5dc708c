package org.berth.agent.lab;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import org.berth.lab.Cmd;
import org.berth.lab.Lab.LabHost;
import org.berth.lab.TestImages;

/**
 * Instances a lab test spawns through the hosts' REST APIs, and their cleanup: {@link #destroyAndCheck} deletes
 * every one on its host and returns what any host still holds of them (containers, OVS ports, links in the host's
 * namespace, QEMU processes), so a test fails on a leak and still leaves the lab clean.
 */
final class LabGuests {
    static final Duration SPAWN_LIMIT = Duration.ofSeconds(240);
    static final Duration DELETE_LIMIT = Duration.ofSeconds(180);
    private static final Duration CMD = Duration.ofSeconds(60);

    /** Where each tracked instance lives, and its port ids. */
    private final Map<UUID, LabHost> where = new LinkedHashMap<>();
    private final Map<UUID, List<String>> ports = new LinkedHashMap<>();

    static String mac() {
        return String.format("fa:16:3e:%02x:%02x:%02x", 0x40 + ThreadLocalRandom.current().nextInt(64),
                ThreadLocalRandom.current().nextInt(256), ThreadLocalRandom.current().nextInt(256));
    }

    /** A VIF body on br-int; {@code cidr} null = no fixed IP in the spec (the guest asks OVN's DHCP). */
    static String vif(String port, String mac, int mtu, String cidr) {
        return "{\"port_id\": \"" + port + "\", \"mac\": \"" + mac + "\", \"bridge\": \"br-int\", \"mtu\": " + mtu
                + (cidr == null ? "" : ", \"ips\": [\"" + cidr + "\"]") + "}";
    }

    /** Spawns a busybox container on {@code host} with one VIF; returns once the API accepted it. */
    UUID container(LabHost host, String port, String vif) throws IOException, InterruptedException {
        UUID uuid = UUID.randomUUID();
        track(host, uuid, port);
        spawn(host, """
                {"driver": "docker", "uuid": "%s", "name": "lab-c-%s", "image_id": "%s",
                 "flavor": {"name": "lab.c", "vcpus": 1, "memory_mb": 128, "root_gb": 1}, "vifs": [%s]}
                """.formatted(uuid, uuid.toString().substring(0, 8), TestImages.id(TestImages.BUSYBOX), vif));
        return uuid;
    }

    /** Spawns the test guest (kernel + initrd) on {@code host} with one VIF and this kernel command line. */
    UUID vm(LabHost host, String port, String vif, String cmdline) throws IOException, InterruptedException {
        UUID uuid = UUID.randomUUID();
        track(host, uuid, port);
        spawn(host, """
                {"driver": "kvm", "uuid": "%s", "name": "lab-vm-%s", "image_id": "%s",
                 "flavor": {"name": "lab.vm", "vcpus": 1, "memory_mb": 256, "root_gb": 1},
                 "properties": {"os_command_line": "%s"}, "vifs": [%s]}
                """.formatted(uuid, uuid.toString().substring(0, 8), TestImages.id(TestImages.GUEST_KERNEL), cmdline,
                vif));
        return uuid;
    }

    private void track(LabHost host, UUID uuid, String port) {
        where.put(uuid, host);
        ports.put(uuid, List.of(port));
    }

    private static void spawn(LabHost host, String body) throws IOException, InterruptedException {
        LabHost.Reply r = host.call("POST", "/v1/instances", body);
        if (r.status() != 202) {
            fail(host.name() + ": spawn answered " + r.status() + ": " + r.body());
        }
    }

    /** GET the instance; null once it is gone (404). */
    static JsonNode instance(LabHost host, UUID uuid) throws IOException, InterruptedException {
        LabHost.Reply r = host.call("GET", "/v1/instances/" + uuid, null);
        if (r.status() == 404) {
            return null;
        }
        if (r.status() != 200) {
            fail(host.name() + ": GET instance " + uuid + " answered " + r.status() + ": " + r.body());
        }
        return r.json().get("instance");
    }

    static JsonNode await(LabHost host, UUID uuid, Duration limit, String what, Predicate<JsonNode> condition)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            last = instance(host, uuid);
            if (condition.test(last)) {
                return last;
            }
            Thread.sleep(250);
        }
        return fail(host.name() + ": instance " + uuid + " not " + what + " within " + limit.toSeconds() + " s; last: "
                + last + "\nagent log:\n" + host.logTail(3000));
    }

    /** Waits until the spawn ended: the record when it is active, a failure naming it otherwise. */
    static JsonNode awaitActive(LabHost host, UUID uuid) throws IOException, InterruptedException {
        JsonNode i = await(host, uuid, SPAWN_LIMIT, "done spawning",
                n -> n == null || n.get("task_state").isNull());
        if (i == null || !"active".equals(i.path("vm_state").asText())) {
            fail(host.name() + ": instance " + uuid + " is not active: " + i + "\nagent log:\n" + host.logTail(3000));
        }
        return i;
    }

    static List<JsonNode> events(LabHost host, UUID uuid) throws IOException, InterruptedException {
        LabHost.Reply r = host.call("GET", "/v1/instances/" + uuid + "/events", null);
        if (r.status() != 200) {
            fail("events of " + uuid + ": " + r.status() + " " + r.body());
        }
        List<JsonNode> out = new ArrayList<>();
        r.json().get("events").forEach(out::add);
        return out;
    }

    /** Polls the console tail until it has a line containing {@code marker}; returns the console. */
    static String awaitConsole(LabHost host, UUID uuid, String marker, Duration limit)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        String text = "";
        while (System.nanoTime() < deadline) {
            LabHost.Reply r = host.call("GET", "/v1/instances/" + uuid + "/console?bytes=65536", null);
            if (r.status() == 200) {
                text = r.body();
                int at = text.indexOf(marker);
                if (at >= 0 && text.indexOf('\n', at) > 0) {
                    return text;
                }
            }
            Thread.sleep(1000);
        }
        return fail(host.name() + ": console of " + uuid + " did not show '" + marker + "' within "
                + limit.toSeconds() + " s; tail:\n" + text.substring(Math.max(0, text.length() - 3000)));
    }

    /** The console line that starts with {@code marker}, without it. */
    static String line(String console, String marker) {
        int at = console.indexOf(marker);
        int end = console.indexOf('\n', at);
        return console.substring(at + marker.length(), end).strip();
    }

    /**
     * The name of an instance's container on a lab host: lab agents share the machine's dockerd, so each names its
     * containers {@code berth-<host>-<uuid>} (drivers.docker.options.container_name_prefix, set by lab.sh).
     */
    static String containerName(LabHost host, UUID uuid) {
        return "berth-" + host.name() + "-" + uuid;
    }

    /** The pid of a container's init (its network namespace is where the VIF went). */
    static long pidOf(LabHost host, UUID container) {
        String out = Cmd.run(CMD, List.of("docker", "inspect", "-f", "{{.State.Pid}}", containerName(host, container)))
                .orThrow();
        return Long.parseLong(out.strip());
    }

    /** {@code argv} in a container's network namespace (the host's binaries: busybox, ip). */
    static Cmd.Result inContainerNet(long pid, Duration limit, String... argv) {
        List<String> all = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid), "-n"));
        all.addAll(List.of(argv));
        return Cmd.run(limit, all);
    }

    /**
     * {@link #destroyAndCheck} for a test's {@code finally}, failing on what is left; a {@code @Timeout} interrupt
     * (the flag is set when the finally runs) must not skip the cleanup, so it is set aside and put back after.
     */
    void cleanUp() throws IOException, InterruptedException {
        boolean interrupted = Thread.interrupted();
        try {
            List<String> problems = destroyAndCheck();
            org.junit.jupiter.api.Assertions.assertTrue(problems.isEmpty(), () -> "cleanup: " + problems);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Deletes every tracked instance, waits for each to be gone, then returns what the hosts still hold of them. */
    List<String> destroyAndCheck() throws IOException, InterruptedException {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<UUID, LabHost> e : where.entrySet()) {
            LabHost.Reply r = e.getValue().call("DELETE", "/v1/instances/" + e.getKey(), null);
            if (r.status() == 409) {
                await(e.getValue(), e.getKey(), DELETE_LIMIT, "idle", n -> n == null || n.get("task_state").isNull());
                r = e.getValue().call("DELETE", "/v1/instances/" + e.getKey(), null);
            }
            if (r.status() != 202 && r.status() != 404) {
                problems.add("DELETE " + e.getKey() + " on " + e.getValue().name() + ": " + r.status() + " " + r.body());
            }
        }
        for (Map.Entry<UUID, LabHost> e : where.entrySet()) {
            try {
                await(e.getValue(), e.getKey(), DELETE_LIMIT, "deleted", n -> n == null);
            } catch (AssertionError a) {
                problems.add(a.getMessage());
            }
        }
        for (Map.Entry<UUID, LabHost> e : where.entrySet()) {
            problems.addAll(awaitNoLeftovers(e.getValue(), e.getKey(), ports.get(e.getKey()), Duration.ofSeconds(15)));
        }
        return problems;
    }

    /**
     * {@link #leftovers}, asked again until it is empty or {@code limit} passed (the agent deletes unplugged devices
     * in the background, tens of milliseconds after the port): what is still there at the end.
     */
    static List<String> awaitNoLeftovers(LabHost host, UUID uuid, List<String> portIds, Duration limit)
            throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        List<String> left = leftovers(host, uuid, portIds);
        while (!left.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(250);
            left = leftovers(host, uuid, portIds);
        }
        return left;
    }

    /** What {@code host} holds of an instance: its container, QEMU process, OVS ports, links and instance files. */
    static List<String> leftovers(LabHost host, UUID uuid, List<String> portIds) {
        List<String> out = new ArrayList<>();
        if (Cmd.run(CMD, List.of("docker", "inspect", containerName(host, uuid))).ok()) {
            out.add("container " + containerName(host, uuid));
        }
        // QEMU runs in its host's namespace (the embedded driver): a migrated VM has one on another host too
        Cmd.Result inNs = Cmd.run(CMD, List.of("ip", "netns", "pids", host.netns()));
        Cmd.Result qemu = Cmd.run(CMD, List.of("pgrep", "-f", "guest=berth-" + uuid));
        if (qemu.ok() && inNs.ok() && qemu.stdout().lines().map(String::strip)
                .anyMatch(pid -> inNs.stdout().lines().map(String::strip).anyMatch(pid::equals))) {
            out.add(host.name() + " QEMU process of berth-" + uuid);
        }
        String ports = host.vsctl("list-ports", "br-int").orThrow();
        String links = host.inNetns(CMD, "ip", "-o", "link", "show").orThrow();
        for (String port : portIds) {
            String tap = "tap" + port.substring(0, 11);
            if (ports.lines().anyMatch(tap::equals)) {
                out.add(host.name() + " OVS port " + tap);
            }
            if (links.contains(": " + tap + ":") || links.contains(": " + tap + "@")) {
                out.add(host.name() + " link " + tap);
            }
        }
        for (String driver : List.of("kvm", "docker")) {
            java.nio.file.Path files = host.dir().resolve("instances/" + driver + "/" + uuid);
            if (java.nio.file.Files.exists(files)) {
                out.add(host.name() + " instance files " + files);
            }
        }
        Cmd.Result iface = host.vsctl("--bare", "--columns=name", "find", "Interface",
                "external_ids:vm-uuid=" + uuid);
        if (!iface.orThrow().isBlank()) {
            out.add(host.name() + " Interface rows of " + uuid + ": " + iface.stdout().strip());
        }
        return out;
    }
}
