package org.berth.agent.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import org.berth.agent.cloud.CloudCli;
import org.berth.agent.cloud.CloudHosts;
import org.berth.agent.cloud.CloudPlacement;
import org.berth.lab.Cmd;
import org.berth.lab.Lab;
import org.berth.lab.Lab.LabHost;
import org.berth.lab.TestImages;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 16's moves on the 3-host lab with the real Placement and OVN, driven through {@code berth cloud}: the test
 * plays Neutron (a logical switch with DHCP and ports WITHOUT requested-chassis: Berth does not own port bindings).
 * A VM and a container on host A and a peer container on host C; the VM and the container migrate A -> B (same uuid,
 * MAC, IP; OVN binds their ports on B's chassis; each pings its peer after; A keeps nothing; Placement holds them on B
 * only after confirm, the migration consumer gone); a migration of the container back to A is reverted (it runs on B
 * again and pings); the container is resized to a bigger flavor (docker's memory limit and the allocation follow)
 * and rebuilt (same uuid, a new container, pings). A kill -9 of the source agent in the middle of migrate_out is
 * rolled back by its reconcile and by the CLI's Placement rollback. Everything is deleted and checked at the end.
 */
class CloudMoveTest {
    private static final String NET = "198.18.212";
    private static final String VM_IP = NET + ".11";
    private static final String C_IP = NET + ".12";
    private static final String PEER_IP = NET + ".13";
    private static final String KILL_IP = NET + ".14";
    private static final int MTU = 1442;
    private static final Duration CMD = Duration.ofSeconds(60);
    private static final Duration SETTLE = Duration.ofSeconds(30);

    private static Lab lab;
    private static CloudPlacement placement;
    private static LabNeutron neutron;
    /** Every instance the tests made and every port (cleaned on every host at the end). */
    private static final Map<UUID, String> PORTS = new LinkedHashMap<>();
    /** Every migration the tests made: none may keep an allocation at the end. */
    private static final Set<UUID> MIGRATIONS = new java.util.LinkedHashSet<>();

    @BeforeAll
    static void lab() {
        lab = Lab.shared(3, OvnAcrossHostsTest.VIF_PLUGGING_TIMEOUT);
        placement = CloudPlacement.of(CloudHosts.load(lab.hostsFile()), Duration.ofSeconds(15));
        neutron = new LabNeutron(lab, "berth-mv-net-");
        neutron.create(NET, MTU);
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (lab == null) {
            return;
        }
        List<String> problems = new ArrayList<>();
        try {
            check(problems);
        } finally {
            if (neutron != null) {
                neutron.delete(); // the logical switch and DHCP options go whatever the checks found
            }
        }
        assertTrue(problems.isEmpty(), "cleanup: " + problems);
    }

    private static void check(List<String> problems) throws Exception {
        for (UUID uuid : PORTS.keySet()) {
            for (LabHost h : lab.hosts()) {
                LabHost.Reply r = h.call("DELETE", "/v1/instances/" + uuid, null);
                if (r.status() == 409) {
                    LabGuests.await(h, uuid, LabGuests.DELETE_LIMIT, "idle", n -> n == null || n.get("task_state").isNull());
                    r = h.call("DELETE", "/v1/instances/" + uuid, null);
                }
                if (r.status() != 202 && r.status() != 404) {
                    problems.add("DELETE " + uuid + " on " + h.name() + ": " + r.status() + " " + r.body());
                }
            }
        }
        for (UUID uuid : PORTS.keySet()) {
            for (LabHost h : lab.hosts()) {
                LabGuests.await(h, uuid, LabGuests.DELETE_LIMIT, "deleted", n -> n == null);
                problems.addAll(LabGuests.awaitNoLeftovers(h, uuid, List.of(PORTS.get(uuid)), Duration.ofSeconds(15)));
            }
        }
        for (LabHost h : lab.hosts()) {
            for (JsonNode i : h.call("GET", "/v1/images", null).json().get("images")) {
                if (i.get("name").asText().startsWith("migration-")) {
                    // a carried image is the moved instance's disk: it goes with the instance; removed here anyway
                    problems.add("image " + i + " left on " + h.name());
                    h.call("DELETE", "/v1/images/" + i.get("id").asText(), null);
                }
            }
        }
        for (UUID uuid : PORTS.keySet()) {
            if (!eventually(SETTLE, () -> placement.consumer(uuid).allocations().isEmpty())) {
                problems.add("Placement still holds " + uuid + ": " + placement.consumer(uuid).allocations());
            }
        }
        for (UUID m : MIGRATIONS) {
            if (!eventually(SETTLE, () -> placement.consumer(m).allocations().isEmpty())) {
                problems.add("Placement still holds migration " + m + ": " + placement.consumer(m).allocations());
            }
        }
        for (UUID uuid : PORTS.keySet()) {
            for (LabHost h : lab.hosts()) {
                // evacuate's spec replicas, which confirm/revert/rebuild republished (berth cloud delete withdraws)
                int st = h.call("DELETE", "/v1/replicas/" + uuid, null).status();
                if (st != 204 && st != 404) {
                    problems.add("DELETE replica " + uuid + " on " + h.name() + ": " + st);
                }
            }
        }
    }

    @Test
    @Timeout(600)
    void migrateConfirmRevertResizeAndRebuildThroughTheCloudCli() throws Exception {
        LabHost a = lab.host(0);
        LabHost b = lab.host(1);
        LabHost c = lab.host(2);
        long t0 = System.nanoTime();
        String vmPort = port(VM_IP);
        String cPort = port(C_IP);
        String peerPort = port(PEER_IP);
        String vmMac = mac(vmPort);
        String cMac = mac(cPort);
        UUID vm = vm(a, vmPort, vmMac);
        UUID ct = container(a, cPort, cMac, C_IP);
        UUID peer = container(c, peerPort, mac(peerPort), PEER_IP);
        LabGuests.awaitActive(a, vm);
        LabGuests.awaitActive(a, ct);
        LabGuests.awaitActive(c, peer);
        assertEquals(a.name(), lab.chassisOf(vmPort));
        assertEquals(a.name(), lab.chassisOf(cPort));
        awaitPing(c, peer, C_IP);
        LabGuests.awaitConsole(a, vm, "BERTH-PING " + PEER_IP, Duration.ofSeconds(120));
        step("VM and container active on " + a.name() + ", peer on " + c.name() + "; pings", t0);
        awaitAllocatedOn(vm, a);
        awaitAllocatedOn(ct, a);

        // migrate both A -> B: the container where Placement puts it (B: nothing there yet, C has the peer: B has
        // the most free RAM), then the VM to a named host
        JsonNode cMove = cloud("migrate", ct.toString());
        JsonNode vmMove = cloud("migrate", vm.toString(), "--host", b.name());
        assertEquals(b.name(), cMove.get("destination").asText(), "Placement's pick: the host with most free RAM");
        step(String.format("migrated VM in %.1f s (%d bytes), container in %.1f s (%d bytes)",
                vmMove.get("seconds").asDouble(), vmMove.get("image_bytes").asLong(), cMove.get("seconds").asDouble(),
                cMove.get("image_bytes").asLong()), t0);
        for (JsonNode move : List.of(vmMove, cMove)) {
            UUID uuid = UUID.fromString(move.get("instance").asText());
            UUID m = UUID.fromString(move.get("migration").asText());
            MIGRATIONS.add(m);
            // before confirm: the instance holds B, the migration holds A's usage; A's copy is stopped and marked
            assertTrue(eventually(SETTLE, () -> providersOf(uuid).equals(Set.of(provider(b)))
                    && providersOf(m).equals(Set.of(provider(a)))), "Placement before confirm: instance "
                    + placement.consumer(uuid).allocations() + ", migration " + placement.consumer(m).allocations());
            JsonNode src = LabGuests.instance(a, uuid);
            assertEquals("stopped", src.get("vm_state").asText());
            assertEquals("source", src.at("/migration/role").asText());
            JsonNode dst = LabGuests.instance(b, uuid);
            assertEquals("destination", dst.at("/migration/role").asText());
            assertTrue(LabGuests.events(b, uuid).stream().anyMatch(e -> e.get("kind").asText().equals("vif.bound")),
                    "the destination's spawn waited for OVN's binding");
            cloud("confirm", uuid.toString());
            assertTrue(eventually(SETTLE, () -> providersOf(uuid).equals(Set.of(provider(b)))
                    && placement.consumer(m).allocations().isEmpty()), "Placement after confirm: instance "
                    + placement.consumer(uuid).allocations() + ", migration " + placement.consumer(m).allocations());
            assertEquals(null, LabGuests.instance(a, uuid), "the source has no record left");
            assertTrue(LabGuests.instance(b, uuid).get("migration").isNull());
            assertEquals(List.of(), LabGuests.awaitNoLeftovers(a, uuid, List.of(PORTS.get(uuid)), Duration.ofSeconds(15)),
                    "the source holds nothing of " + uuid);
            assertEquals(List.of(), migrationImages(a, m), "the source's migration image is gone");
        }
        assertEquals(b.name(), lab.chassisOf(vmPort), "OVN bound the VM's port on the destination's chassis");
        assertEquals(b.name(), lab.chassisOf(cPort), "OVN bound the container's port on the destination's chassis");
        JsonNode vmNow = LabGuests.instance(b, vm);
        assertEquals(vmMac, vmNow.at("/spec/vifs/0/mac").asText());
        assertEquals(vmPort, vmNow.at("/spec/vifs/0/port_id").asText());
        String console = LabGuests.awaitConsole(b, vm, "BERTH-PING " + PEER_IP, Duration.ofSeconds(120));
        assertTrue(LabGuests.line(console, "BERTH-NET").startsWith("eth0 " + VM_IP + "/24 mac " + vmMac),
                "the VM took the same address on B: " + LabGuests.line(console, "BERTH-NET"));
        assertTrue(console.contains("BERTH-PING " + PEER_IP + " ok"), "VM on B -> peer on C");
        String link = LabGuests.inContainerNet(LabGuests.pidOf(b, ct), CMD, "ip", "-o", "addr", "show", "eth0").orThrow();
        assertTrue(link.contains(C_IP + "/24"), "the container has its address on B: " + link);
        awaitPing(b, ct, PEER_IP);
        awaitPing(c, peer, VM_IP);
        awaitPing(c, peer, C_IP);
        step("both confirmed on " + b.name() + ": same MAC/IP, bound on its chassis, pinging; " + a.name()
                + " holds nothing", t0);

        // a migration back to A, reverted: the container runs on B again
        JsonNode back = cloud("migrate", ct.toString(), "--host", a.name());
        assertEquals("active", LabGuests.instance(a, ct).get("vm_state").asText());
        assertEquals(a.name(), lab.chassisOf(cPort));
        JsonNode reverted = cloud("revert", ct.toString());
        UUID m2 = UUID.fromString(back.get("migration").asText());
        MIGRATIONS.add(m2);
        assertEquals(m2.toString(), reverted.get("migration").asText());
        assertEquals(null, LabGuests.instance(a, ct), "the reverted destination copy is gone");
        assertTrue(LabGuests.instance(b, ct).get("migration").isNull());
        assertTrue(eventually(SETTLE, () -> providersOf(ct).equals(Set.of(provider(b)))
                && placement.consumer(m2).allocations().isEmpty()), "Placement after revert: "
                + placement.consumer(ct).allocations());
        assertTrue(eventually(Duration.ofSeconds(20), () -> b.name().equals(lab.chassisOf(cPort))));
        assertEquals(List.of(), LabGuests.awaitNoLeftovers(a, ct, List.of(cPort), Duration.ofSeconds(15)));
        assertEquals(List.of(), migrationImages(a, m2), "the destination's copy of the image is gone");
        awaitPing(c, peer, C_IP);
        step("migration B -> A reverted: back on " + b.name() + ", pinging", t0);

        // resize to a bigger flavor (Placement picks the host), confirm
        JsonNode resized = cloud("resize", ct.toString(), "--flavor", "lab.c.big", "--vcpus", "1", "--memory-mb", "192");
        MIGRATIONS.add(UUID.fromString(resized.get("migration").asText()));
        LabHost now = lab.hosts().stream().filter(h -> h.name().equals(resized.get("destination").asText()))
                .findFirst().orElseThrow();
        assertNotEquals(b.name(), now.name());
        cloud("confirm", ct.toString());
        String memory = Cmd.run(CMD, List.of("docker", "inspect", "-f", "{{.HostConfig.Memory}}",
                LabGuests.containerName(now, ct))).orThrow().strip();
        assertEquals(String.valueOf(192L << 20), memory, "docker's memory limit is the new flavor's");
        assertTrue(eventually(SETTLE, () -> placement.consumer(ct).allocations()
                        .equals(Map.of(provider(now), Map.of("VCPU", 1L, "MEMORY_MB", 192L, "DISK_GB", 1L)))),
                "the allocation is the new flavor's on " + now.name() + ": " + placement.consumer(ct).allocations());
        assertEquals("lab.c.big", LabGuests.instance(now, ct).at("/spec/flavor/name").asText());
        assertEquals(List.of(), LabGuests.awaitNoLeftovers(b, ct, List.of(cPort), Duration.ofSeconds(15)));
        awaitPing(c, peer, C_IP);
        step("resized to lab.c.big on " + now.name() + " (memory " + memory + ")", t0);

        // rebuild: same uuid and port, a new container
        String before = Cmd.run(CMD, List.of("docker", "inspect", "-f", "{{.Id}}", LabGuests.containerName(now, ct)))
                .orThrow().strip();
        JsonNode rebuilt = cloud("rebuild", ct.toString(), "--image", TestImages.BUSYBOX);
        assertEquals(now.name(), rebuilt.get("destination").asText());
        String after = Cmd.run(CMD, List.of("docker", "inspect", "-f", "{{.Id}}", LabGuests.containerName(now, ct)))
                .orThrow().strip();
        assertNotEquals(before, after, "a new container");
        assertEquals(TestImages.id(TestImages.BUSYBOX), LabGuests.instance(now, ct).at("/spec/image_id").asText());
        awaitPing(c, peer, C_IP);
        step("rebuilt on " + now.name() + " from " + TestImages.BUSYBOX + ": a new container, pinging", t0);
    }

    @Test
    @Timeout(300)
    void aKilledSourceAgentRollsMigrateOutBack() throws Exception {
        LabHost a = lab.host(0);
        LabHost b = lab.host(1);
        long t0 = System.nanoTime();
        String kPort = port(KILL_IP);
        UUID ct = container(a, kPort, mac(kPort), KILL_IP);
        LabGuests.awaitActive(a, ct);
        awaitAllocatedOn(ct, a);
        // the CLI's migrate in the background; the source agent is killed while its migrate_out runs (busybox's
        // init ignores SIGTERM: the stop takes docker's grace time, a wide window)
        CompletableFuture<String[]> run = CompletableFuture.supplyAsync(() -> cli("migrate", ct.toString(), "--host",
                b.name(), "--wait-timeout", "60s", "--timeout", "5s"));
        // polled tightly: the stop, commit and save take far longer than one poll
        assertTrue(eventually(Duration.ofSeconds(30), Duration.ofMillis(20), () -> "resize_migrating".equals(
                taskOf(a, ct))), "migrate_out started on " + a.name());
        long pid = Long.parseLong(Files.readString(a.dir().resolve("agent.pid")).strip());
        Cmd.run(CMD, List.of("kill", "-9", Long.toString(pid))).orThrow();
        step("killed " + a.name() + "'s agent (pid " + pid + ") during migrate_out", t0);
        String[] out = run.get(120, java.util.concurrent.TimeUnit.SECONDS);
        assertNotEquals("0", out[0], "the CLI's migrate failed: " + out[1] + out[2]);
        assertTrue(out[2].contains("Placement moved back"), "the CLI moved Placement back: " + out[2]);
        java.util.regex.Matcher said = java.util.regex.Pattern.compile("migration ([0-9a-f-]{36}):").matcher(out[2]);
        assertTrue(said.find(), "the CLI names the migration: " + out[2]);
        UUID m = UUID.fromString(said.group(1));
        MIGRATIONS.add(m);
        Cmd.Result up = lab.script(Duration.ofSeconds(120), "up", "3");
        assertTrue(up.ok(), "lab.sh up restarts the agent: " + up.stdout() + up.stderr());
        JsonNode back = LabGuests.await(a, ct, Duration.ofSeconds(90), "rolled back", n -> n != null
                && n.get("task_state").isNull() && "active".equals(n.get("vm_state").asText()));
        assertTrue(back.get("migration").isNull(), "the marker is gone: " + back);
        assertTrue(back.path("fault").asText().contains("rolled back"), "the fault says so: " + back);
        assertEquals(null, LabGuests.instance(b, ct));
        assertTrue(LabGuests.events(a, ct).stream().anyMatch(e -> e.get("kind").asText()
                .equals("reconcile.migrate_out_rolled_back")), "the restarted agent's reconcile rolled it back");
        assertEquals(List.of(), migrationImages(a, m), "no migration image left");
        assertTrue(eventually(SETTLE, () -> providersOf(ct).equals(Set.of(provider(a)))
                        && placement.consumer(m).allocations().isEmpty()),
                "Placement: the instance on " + a.name() + " only, the migration consumer gone: "
                        + placement.consumer(ct).allocations() + ", " + placement.consumer(m).allocations());
        assertTrue(eventually(Duration.ofSeconds(20), () -> a.name().equals(lab.chassisOf(kPort))));
        step("reconcile rolled migrate_out back: active on " + a.name() + ", marker gone; CLI said: "
                + out[2].strip(), t0);
    }

    // ---- helpers ----

    /** Runs {@code berth --json cloud ARGS} in this JVM and returns its JSON answer (exit 0 required). */
    private static JsonNode cloud(String... args) {
        CloudCli.Run r = new CloudCli(lab.hostsFile()).json(args);
        if (r.code() != 0) {
            fail("berth cloud " + String.join(" ", args) + ": " + r);
        }
        System.out.println("berth cloud " + String.join(" ", args) + " -> " + r.json());
        return r.json();
    }

    /** {exit code, stdout, stderr} of {@code berth cloud ARGS} against the lab's hosts file. */
    private static String[] cli(String... args) {
        CloudCli.Run r = new CloudCli(lab.hostsFile()).text(args);
        return new String[] {Integer.toString(r.code()), r.out(), r.err()};
    }

    /** A Neutron port on the switch: address, port security, DHCP; no requested-chassis (OVN binds where plugged). */
    private static String port(String ip) {
        String port = UUID.randomUUID().toString();
        neutron.port(port, LabGuests.mac(), ip, null);
        return port;
    }

    private static String mac(String port) {
        return lab.nbctl("--bare", "--columns=addresses", "list", "Logical_Switch_Port", port).orThrow().strip()
                .split("\\s+")[0].replace("\"", "");
    }

    private static UUID vm(LabHost host, String port, String mac) throws IOException, InterruptedException {
        UUID uuid = UUID.randomUUID();
        PORTS.put(uuid, port);
        spawn(host, """
                {"driver": "kvm", "uuid": "%s", "name": "mv-vm-%s", "image_id": "%s",
                 "flavor": {"name": "lab.vm", "vcpus": 1, "memory_mb": 256, "root_gb": 1},
                 "properties": {"os_command_line": "console=ttyS0 berth.ip=dhcp berth.mac=%s berth.ping=%s"},
                 "vifs": [%s]}
                """.formatted(uuid, uuid.toString().substring(0, 8), TestImages.id(TestImages.GUEST_KERNEL), mac,
                PEER_IP, LabGuests.vif(port, mac, MTU, null)));
        return uuid;
    }

    private static UUID container(LabHost host, String port, String mac, String ip) throws IOException,
            InterruptedException {
        UUID uuid = UUID.randomUUID();
        PORTS.put(uuid, port);
        spawn(host, """
                {"driver": "docker", "uuid": "%s", "name": "mv-c-%s", "image_id": "%s",
                 "flavor": {"name": "lab.c", "vcpus": 1, "memory_mb": 128, "root_gb": 1}, "vifs": [%s]}
                """.formatted(uuid, uuid.toString().substring(0, 8), TestImages.id(TestImages.BUSYBOX),
                LabGuests.vif(port, mac, MTU, ip + "/24")));
        return uuid;
    }

    private static void spawn(LabHost host, String body) throws IOException, InterruptedException {
        LabHost.Reply r = host.call("POST", "/v1/instances", body);
        assertEquals(202, r.status(), host.name() + ": spawn: " + r.body());
    }

    /** Pings {@code address} from the container's network namespace on {@code host}, bounded. */
    private static void awaitPing(LabHost host, UUID container, String address) throws InterruptedException {
        LabNeutron.awaitPing(LabGuests.pidOf(host, container), address, Duration.ofSeconds(60));
    }

    private static List<String> migrationImages(LabHost host, UUID m) throws IOException, InterruptedException {
        List<String> out = new ArrayList<>();
        host.call("GET", "/v1/images", null).json().get("images").forEach(i -> {
            if (i.get("name").asText().equals("migration-" + m)) {
                out.add(i.toString());
            }
        });
        return out;
    }

    private static String taskOf(LabHost h, UUID uuid) {
        try {
            JsonNode i = LabGuests.instance(h, uuid);
            return i == null ? null : i.path("task_state").asText(null);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static UUID provider(LabHost h) {
        return placement.provider(h.name()).orElseThrow().uuid();
    }

    private static Set<UUID> providersOf(UUID consumer) {
        return placement.consumer(consumer).allocations().keySet();
    }

    /** Waits until the agent's reporter wrote the instance's allocation on its host (~0.3 s after admission). */
    private static void awaitAllocatedOn(UUID uuid, LabHost h) throws InterruptedException {
        assertTrue(eventually(SETTLE, () -> providersOf(uuid).equals(Set.of(provider(h)))),
                uuid + " allocated on " + h.name() + ": " + placement.consumer(uuid).allocations());
    }

    private static boolean eventually(Duration limit, BooleanSupplier condition) throws InterruptedException {
        return eventually(limit, Duration.ofMillis(250), condition);
    }

    private static boolean eventually(Duration limit, Duration poll, BooleanSupplier condition)
            throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(poll.toMillis());
        }
        return condition.getAsBoolean();
    }

    private static void step(String what, long t0) {
        System.out.printf("[%6.1f s] %s%n", (System.nanoTime() - t0) / 1e9, what);
    }
}
