package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.berth.agent.TestAgent.Reply;
import org.berth.agent.store.Store;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 6 acceptance: kill -9 of the agent in the middle of a spawn, then a restart on the same state: the instance
 * ends RUNNING or fully removed from the backends, the store agrees with the host, and nothing leaks. The kill lands
 * at different points of the spawn: just accepted (the store says task_state spawning), once the driver wrote the
 * instance's files, once the backend has the domain/container, once the tap is plugged, once the guest runs (the
 * store may still say spawning: the agent had not recorded the end yet).
 */
class KillDuringSpawnTest {
    private static final Duration POINT_LIMIT = Duration.ofSeconds(60);
    private static final Duration SETTLE_LIMIT = Duration.ofSeconds(240);

    @ParameterizedTest(name = "{0} killed at {1}")
    @CsvSource({"kvm, accepted", "kvm, files", "kvm, backend", "kvm, tap", "kvm, started",
            "docker, accepted", "docker, backend", "docker, started"})
    @Timeout(900)
    void spawnInterruptedByKill9EndsRunningOrRemoved(String driver, String point) throws Exception {
        Guests.withAgent("KillDuringSpawnTest " + driver + "/" + point, new Guests(),
                (agent, guests, t0) -> run(agent, guests, driver, point, t0));
    }

    private static void run(AgentProcess agent, Guests guests, String driver, String point, long t0) throws Exception {
        UUID uuid = UUID.randomUUID();
        String body = driver.equals("kvm")
                ? guests.vmBody(uuid, Guests.guestKernel(), "198.18.22.21/24", null)
                : guests.containerBody(uuid, Guests.busybox(), "198.18.22.20/24");
        String port = guests.ports.iterator().next();
        Guests.spawn(agent, body); // the answer says task_state spawning: the record is journaled
        BooleanSupplier reached = switch (point) {
            case "accepted" -> () -> true;
            case "files" -> () -> hasFiles(agent.instancesPath.resolve(driver), uuid);
            case "tap" -> () -> Host.linkExists(Host.tapOf(port));
            case "backend" -> () -> driver.equals("kvm") ? Host.domainState(uuid).isPresent() : Host.containerExists(uuid);
            case "started" -> () -> driver.equals("kvm") ? Host.domainState(uuid).orElse("").equals("running")
                    : Host.run("docker", "inspect", "-f", "{{.State.Running}}", Host.backendName(uuid)).stdout().strip()
                            .equals("true");
            default -> throw new IllegalArgumentException(point);
        };
        long deadline = System.nanoTime() + POINT_LIMIT.toNanos();
        while (!reached.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("the spawn never reached '" + point + "'; agent log:\n" + agent.logTail(3000));
            }
            Thread.sleep(5);
        }
        agent.kill9();
        String journaled;
        try (Store store = Store.open(agent.stateDir.resolve("berth.db"))) {
            journaled = store.find(uuid).map(r -> String.valueOf(r.taskState())).orElse("(no record)");
        }
        Guests.step(driver + " spawn killed at '" + point + "' (agent pid " + agent.pid() + "); the store had task_state "
                + journaled, t0);
        if (point.equals("accepted")) {
            assertEquals("spawning", journaled, "killed in the middle of the spawn");
        }

        agent.start();
        Guests.step("agent restarted on the same state", t0);
        JsonNode settled = agent.awaitInstance(uuid, SETTLE_LIMIT, "settled after the restart",
                n -> n == null || n.get("task_state").isNull());
        Guests.step("settled: " + (settled == null ? "404" : settled.get("vm_state").asText() + "/"
                + settled.get("power_state").asText() + " fault " + settled.get("fault")), t0);

        Reply list = agent.call("GET", "/v1/instances", null);
        boolean listed = false;
        for (JsonNode i : list.json().get("instances")) {
            listed |= i.get("uuid").asText().equals(uuid.toString());
        }
        boolean inBackend = driver.equals("kvm") ? Host.domainState(uuid).isPresent() : Host.containerExists(uuid);
        if (settled != null && settled.get("power_state").asText().equals("RUNNING")) {
            assertEquals("active", settled.get("vm_state").asText(), settled.toString());
            assertTrue(listed, "GET /v1/instances lists the running instance");
            if (driver.equals("kvm")) {
                assertEquals("running", Host.domainState(uuid).orElse("none"), "libvirt agrees");
            } else {
                assertTrue(Host.run("docker", "inspect", "-f", "{{.State.Running}}", Host.backendName(uuid))
                        .stdout().strip().equals("true"), "docker agrees");
            }
            // the VIF is plugged, as after an uninterrupted spawn
            Map<String, String> ids = awaitPort(port);
            assertEquals(uuid.toString(), ids.get("vm-uuid"), ids.toString());
            assertEquals(Host.tapOf(port), ids.get("name"));
        } else {
            // rolled back: the store says so (error, nothing running; or no record at all) and the host has nothing
            if (settled != null) {
                assertEquals("error", settled.get("vm_state").asText(), settled.toString());
                assertEquals("NOSTATE", settled.get("power_state").asText(), settled.toString());
                assertTrue(settled.get("fault").asText().contains("spawn interrupted"), settled.toString());
            }
            assertEquals(settled != null, listed, "GET /v1/instances agrees with GET /v1/instances/{uuid}");
            assertTrue(!inBackend, "the backend still has " + Host.backendName(uuid));
            List<String> leaks = Host.leftovers(List.of(uuid), List.of(port), agent.stateDir);
            assertTrue(leaks.isEmpty(), () -> "a rolled-back spawn left: " + leaks);
        }
    }

    private static Map<String, String> awaitPort(String port) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            var ids = Host.ovsInterface(port);
            if (ids.isPresent()) {
                return ids.get();
            }
            Thread.sleep(500);
        }
        return fail("no OVS interface with iface-id " + port + " for the running instance");
    }

    private static boolean hasFiles(Path dir, UUID uuid) {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.anyMatch(p -> p.getFileName().toString().contains(uuid.toString()));
        } catch (IOException | UncheckedIOException e) {
            return false; // files come and go while the driver works
        }
    }
}
