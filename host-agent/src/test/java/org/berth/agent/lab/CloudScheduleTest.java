package org.berth.agent.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.berth.agent.cloud.CloudCli;
import org.berth.agent.cloud.CloudCommand;
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
 * Issue 16's scheduling acceptance on the 3-host lab (real agents, the lab's Placement, docker and kvm): three
 * concurrent {@code berth cloud spawn --wait} loops ask for more than the hosts hold (~2048 MB each), so every spawn
 * ends active or refused "no valid host", no host is over capacity (Placement and each agent agree), and the claims
 * are the instances, consumer by consumer. A spawn whose container name is already taken on the host the weigher
 * picks first fails there and is rescheduled: it ends active elsewhere and the failed hosts hold no claim.
 * Everything is deleted through {@code berth cloud delete}, and nothing is left.
 */
class CloudScheduleTest {
    private static final Duration CMD = Duration.ofSeconds(60);
    private static final int LOOPS = 3;
    private static final int PER_LOOP = 10;
    private static final int[] CONTAINER_MB = {256, 384, 512};

    private static Lab lab;
    private static CloudCli cli;
    private static CloudCommand.Cloud cloud;
    /** Every uuid this test asked for, spawned or refused: none may be left anywhere. */
    private static final Set<UUID> asked = Collections.synchronizedSet(new TreeSet<>());
    private static final List<String> squatters = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void lab() {
        lab = Lab.shared(3, OvnAcrossHostsTest.VIF_PLUGGING_TIMEOUT);
        cli = new CloudCli(lab.hostsFile());
        cloud = new CloudCommand.Cloud(CloudHosts.load(lab.hostsFile()), Duration.ofSeconds(30));
    }

    @AfterAll
    static void cleanUp() {
        if (lab == null) {
            return;
        }
        List<String> problems = new ArrayList<>();
        for (UUID u : asked) {
            CloudCli.Run r = cli.text("delete", u.toString());
            if (r.code() != 0 && !r.err().contains("no host has instance")) {
                problems.add("cloud delete " + u + ": " + r);
            }
        }
        squatters.forEach(n -> Cmd.run(CMD, List.of("docker", "rm", "-f", n)));
        problems.addAll(leftovers());
        assertTrue(problems.isEmpty(), "cleanup: " + problems);
    }

    /** What is left of the test's instances: agents' records, Placement allocations, containers, QEMU, files. */
    private static List<String> leftovers() {
        List<String> out = new ArrayList<>();
        for (LabHost h : lab.hosts()) {
            for (JsonNode i : cloud.agent(h.name()).instances()) {
                if (asked.contains(UUID.fromString(i.path("uuid").asText()))) {
                    out.add(h.name() + " still has instance " + i.path("uuid").asText());
                }
            }
        }
        for (UUID u : asked) {
            if (cloud.placement().consumer(u).exists()) {
                out.add("Placement still has allocations of " + u);
            }
        }
        String names = Cmd.run(CMD, List.of("docker", "ps", "-a", "--format", "{{.Names}}")).orThrow();
        String qemu = Cmd.run(CMD, List.of("ps", "-eo", "args")).orThrow();
        for (UUID u : asked) {
            names.lines().filter(n -> n.contains(u.toString())).forEach(n -> out.add("container " + n));
            qemu.lines().filter(l -> l.contains("guest=berth-" + u)).forEach(l -> out.add("QEMU of " + u));
            for (LabHost h : lab.hosts()) {
                for (String driver : List.of("kvm", "docker")) {
                    Path files = h.dir().resolve("instances/" + driver + "/" + u);
                    if (Files.exists(files)) {
                        out.add(h.name() + " instance files " + files);
                    }
                }
            }
        }
        squatters.stream().filter(n -> names.lines().anyMatch(n::equals)).forEach(n -> out.add("container " + n));
        return out;
    }

    private static UUID provider(String host) {
        return cloud.placement().provider(host).orElseThrow(() -> new AssertionError(host + " has no provider")).uuid();
    }

    private static CloudCli.Run spawn(UUID uuid, String... args) {
        asked.add(uuid);
        List<String> all = new ArrayList<>(List.of("spawn", "--uuid", uuid.toString(), "--name", "sched-"
                + uuid.toString().substring(0, 8), "--wait", "--wait-timeout", "4m"));
        all.addAll(List.of(args));
        return cli.json(all.toArray(String[]::new));
    }

    private static CloudCli.Run container(UUID uuid, int memoryMb) {
        return spawn(uuid, "--driver", "docker", "--image", TestImages.BUSYBOX, "--vcpus", "1", "--memory-mb",
                Integer.toString(memoryMb));
    }

    @Test
    @Timeout(240)
    void aSpawnFailingOnTheChosenHostIsRescheduled() {
        long t0 = System.nanoTime();
        // a filler makes one host the least free: the weigher then tries the two others first
        UUID filler = UUID.randomUUID();
        CloudCli.Run f = container(filler, 512);
        assertEquals(0, f.code(), f.toString());
        String last = f.json().path("host").asText();
        UUID target = UUID.randomUUID();
        String engineImage = TestImages.manifest(TestImages.BUSYBOX).path("properties").path("docker_image_id").asText();
        List<String> taken = new ArrayList<>();
        for (LabHost h : lab.hosts()) {
            if (!h.name().equals(last)) {
                String name = LabGuests.containerName(h, target);
                squatters.add(name);
                Cmd.run(CMD, List.of("docker", "create", "--name", name, engineImage, "true")).orThrow();
                taken.add(h.name());
            }
        }
        CloudCli.Run r = container(target, 128);
        assertEquals(0, r.code(), r.toString());
        JsonNode j = r.json();
        assertEquals(last, j.path("host").asText(), "it ends on the only host where its name is free");
        assertEquals("active", j.at("/instance/vm_state").asText());
        List<String> failedOn = new ArrayList<>();
        j.path("attempts").forEach(a -> {
            if (a.path("outcome").asText().equals("error")) {
                failedOn.add(a.path("host").asText());
                assertTrue(a.path("reason").asText().contains("ERROR"), a.toString());
            }
        });
        assertEquals(new TreeSet<>(taken), new TreeSet<>(failedOn), "both taken hosts were tried and failed: " + j);
        assertEquals(Set.of(provider(last)), cloud.placement().consumer(target).allocations().keySet(),
                "only the host it runs on holds its claim");
        for (String h : taken) {
            assertNull(cloud.agent(h).instance(target), h + " has no record of it");
        }
        for (UUID u : List.of(filler, target)) {
            CloudCli.Run d = cli.json("delete", u.toString());
            assertEquals(0, d.code(), d.toString());
            assertEquals(List.of(last), hosts(d.json().path("hosts")));
        }
        squatters.forEach(n -> Cmd.run(CMD, List.of("docker", "rm", "-f", n)));
        // a request every host refuses (400, no name) is reported at once, not rescheduled, and holds no claim
        UUID nameless = UUID.randomUUID();
        asked.add(nameless);
        CloudCli.Run bad = cli.json("spawn", "--uuid", nameless.toString(), "--driver", "docker", "--image",
                TestImages.BUSYBOX, "--vcpus", "1", "--memory-mb", "64");
        assertEquals(1, bad.code(), bad.toString());
        assertTrue(bad.err().startsWith("berth: 400 name (required)"), bad.toString());
        assertTrue(!cloud.placement().consumer(nameless).exists(), "the refused request's claim is given back");
        List<String> left = leftovers();
        assertTrue(left.isEmpty(), left.toString());
        System.out.printf("reschedule: %s failed on %s, active on %s; %.1f s%n", target, failedOn, last,
                (System.nanoTime() - t0) / 1e9);
    }

    private static List<String> hosts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    @Test
    @Timeout(240)
    void threeConcurrentLoopsNeverOvercommit() throws Exception {
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(LOOPS);
        List<Future<List<Outcome>>> loops = new ArrayList<>();
        try {
            for (int l = 0; l < LOOPS; l++) {
                int loop = l;
                loops.add(pool.submit(() -> {
                    List<Outcome> out = new ArrayList<>();
                    for (int i = 0; i < PER_LOOP; i++) {
                        UUID u = UUID.randomUUID();
                        CloudCli.Run r = i == 0
                                ? spawn(u, "--driver", "kvm", "--image", TestImages.GUEST_KERNEL, "--vcpus", "1",
                                "--memory-mb", "128", "--root-gb", "1", "--property", "os_command_line=console=ttyS0")
                                : container(u, CONTAINER_MB[(loop + i) % CONTAINER_MB.length]);
                        out.add(new Outcome(u, r));
                    }
                    return out;
                }));
            }
            List<Outcome> all = new ArrayList<>();
            for (Future<List<Outcome>> f : loops) {
                all.addAll(f.get(200, TimeUnit.SECONDS));
            }
            double spawnSeconds = (System.nanoTime() - t0) / 1e9;
            Map<String, Set<UUID>> activeOn = new TreeMap<>();
            int refused = 0;
            for (Outcome o : all) {
                if (o.run().code() == 0) {
                    JsonNode j = o.run().json();
                    assertEquals("active", j.at("/instance/vm_state").asText(), o.run().toString());
                    activeOn.computeIfAbsent(j.path("host").asText(), k -> new HashSet<>()).add(o.uuid());
                } else {
                    assertEquals(1, o.run().code(), o.run().toString());
                    assertTrue(o.run().err().startsWith("berth: no valid host: "), o.run().toString());
                    refused++;
                    assertTrue(!cloud.placement().consumer(o.uuid()).exists(), "a refused spawn holds no claim");
                }
            }
            int active = activeOn.values().stream().mapToInt(Set::size).sum();
            assertEquals(LOOPS * PER_LOOP, active + refused);
            assertTrue(refused > 0, "the hosts cannot hold every spawn: some must be refused");
            assertTrue(all.stream().filter(o -> o.run().code() != 0).anyMatch(o -> o.run().err()
                    .contains("MEMORY_MB short")), "a refusal names MEMORY_MB");
            for (LabHost h : lab.hosts()) {
                UUID rp = provider(h.name());
                Map<String, CloudPlacement.Usage> usage = cloud.placement().usages(rp);
                usage.forEach((rc, u) -> assertTrue(u.used() <= u.capacity(), h.name() + " " + rc + " over: " + u));
                JsonNode agent = cloud.agent(h.name()).hostInfo().path("host");
                for (String[] k : new String[][] {{"vcpus", "VCPU"}, {"memory_mb", "MEMORY_MB"}, {"disk_gb", "DISK_GB"}}) {
                    assertTrue(agent.at("/free/" + k[0]).asLong() >= 0, h.name() + " agent free " + agent);
                    CloudPlacement.Usage u = usage.get(k[1]);
                    assertEquals(u == null ? 0 : u.used(), agent.at("/claimed/" + k[0]).asLong(),
                            h.name() + ": the agent's claimed " + k[0] + " is Placement's used " + k[1]);
                }
                Set<UUID> records = new HashSet<>();
                cloud.agent(h.name()).instances().forEach(i -> records.add(UUID.fromString(i.path("uuid").asText())));
                Set<UUID> ours = new HashSet<>(records);
                ours.retainAll(asked);
                assertEquals(activeOn.getOrDefault(h.name(), Set.of()), ours, h.name() + " runs what the CLI said");
                assertEquals(records, cloud.placement().allocations(rp).keySet(),
                        h.name() + ": Placement's consumers are the agent's instances");
            }
            CloudCli.Run hostsRun = cli.json("hosts");
            assertEquals(0, hostsRun.code(), hostsRun.toString());
            Map<String, Integer> counts = new HashMap<>();
            hostsRun.json().path("hosts").forEach(n -> {
                assertTrue(n.path("reachable").asBoolean(), n.toString());
                assertEquals("enabled", n.path("status").asText(), n.toString());
                counts.put(n.path("name").asText(), n.path("instances").asInt());
            });
            CloudCli.Run list = cli.json("list");
            assertEquals(0, list.code(), list.toString());
            Map<String, Set<UUID>> listed = new TreeMap<>();
            list.json().path("instances").forEach(n -> {
                UUID u = UUID.fromString(n.path("uuid").asText());
                if (asked.contains(u)) {
                    listed.computeIfAbsent(n.path("host").asText(), k -> new HashSet<>()).add(u);
                }
            });
            assertEquals(activeOn, listed, "cloud list shows each instance with its host");
            activeOn.forEach((h, s) -> assertTrue(counts.get(h) >= s.size(), "cloud hosts counts " + h));
            String table = cli.text("hosts").out();
            System.out.println(table);

            long d0 = System.nanoTime();
            List<Future<CloudCli.Run>> deletes = new ArrayList<>();
            activeOn.values().forEach(s -> s.forEach(u -> deletes.add(pool.submit(() -> cli.json("delete", u.toString())))));
            for (Future<CloudCli.Run> d : deletes) {
                CloudCli.Run r = d.get(200, TimeUnit.SECONDS);
                assertEquals(0, r.code(), r.toString());
                assertTrue(r.json().path("hosts").size() == 1, r.toString());
            }
            List<String> left = leftovers();
            assertTrue(left.isEmpty(), left.toString());
            System.out.printf("%d spawns from %d loops: %d active (%s), %d refused \"no valid host\"; spawning %.1f s, "
                    + "deleting %.1f s%n", LOOPS * PER_LOOP, LOOPS, active, counts(activeOn), refused, spawnSeconds,
                    (System.nanoTime() - d0) / 1e9);
        } finally {
            pool.shutdownNow();
            if (!pool.awaitTermination(60, TimeUnit.SECONDS)) {
                fail("the spawn loops did not stop");
            }
        }
    }

    private static Map<String, Integer> counts(Map<String, Set<UUID>> by) {
        Map<String, Integer> out = new TreeMap<>();
        by.forEach((k, v) -> out.put(k, v.size()));
        return out;
    }

    private record Outcome(UUID uuid, CloudCli.Run run) {
    }
}
