package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.berth.agent.TestAgent.Reply;
import org.berth.lab.TestImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 6 acceptance through the REST API of the real agent process: import the test images, spawn a container
 * and a VM on br-int (198.18.22.0/24), see them RUNNING, ping between them, pause/unpause, hard reboot, console
 * tail, snapshot, destroy; GET /v1/host shows the claimed usage rising and falling.
 */
class RestAcceptanceTest {
    private static final String C_IP = "198.18.22.10";
    private static final String VM_IP = "198.18.22.11";

    @Test
    @Timeout(1500)
    void containerAndVmThroughTheRestApi() throws Exception {
        Guests.withAgent("RestAcceptanceTest", new Guests(), RestAcceptanceTest::run);
    }

    private static void run(AgentProcess agent, Guests guests, long t0) throws Exception {
        Guests.step("agent up", t0);
        JsonNode host0 = claimed(agent);

        Map<String, String> imported = importTestImages(agent, guests);
        Guests.step("3 images imported", t0);

        UUID c = UUID.randomUUID();
        Guests.spawn(agent, guests.containerBody(c, imported.get("berth-busybox"), C_IP + "/24"));
        agent.awaitRunning(c, Guests.SPAWN_LIMIT);
        Guests.step("container RUNNING", t0);
        JsonNode host1 = claimed(agent);
        Checks.assertUsage(host0, host1, 1, 128, 1, "after the container spawn");

        UUID vm = UUID.randomUUID();
        Guests.spawn(agent, guests.vmBody(vm, imported.get("berth-guest-kernel"), VM_IP + "/24", C_IP));
        JsonNode vmRec = agent.awaitRunning(vm, Guests.SPAWN_LIMIT);
        Guests.step("VM RUNNING", t0);
        JsonNode host2 = claimed(agent);
        Checks.assertUsage(host1, host2, 1, 256, 1, "after the VM spawn");
        assertEquals("active", vmRec.get("vm_state").asText());

        JsonNode cRec = agent.instance(c);
        for (JsonNode rec : List.of(cRec, vmRec)) {
            Checks.assertPlugged(rec, rec.get("uuid").asText());
        }

        String console = Guests.awaitConsole(agent, vm, "BERTH-PING " + C_IP, Duration.ofSeconds(300));
        assertTrue(console.contains("BERTH-PING " + C_IP + " ok"),
                "the VM pinged the container: " + Checks.tail(console));
        Guests.step("VM -> container ping ok", t0);
        Checks.awaitPing(c, VM_IP, Duration.ofSeconds(90));
        Guests.step("container -> VM ping ok", t0);

        for (UUID u : List.of(c, vm)) {
            act(agent, u, "{\"pause\": null}", "PAUSED");
            act(agent, u, "{\"unpause\": null}", "RUNNING");
        }
        Guests.step("pause/unpause both", t0);

        for (UUID u : List.of(c, vm)) {
            act(agent, u, "{\"reboot\": {\"type\": \"HARD\"}}", "RUNNING");
            assertTrue(events(agent, u).stream().anyMatch(e -> e.get("kind").asText().equals("reboot.end")));
        }
        Guests.step("hard reboot both", t0);
        // the rebooted VM boots again and the container got its VIF back: they reach each other again
        Checks.awaitPing(c, VM_IP, Duration.ofSeconds(300));
        Guests.step("container -> VM ping ok after the reboots", t0);

        Reply tailReply = agent.call("GET", "/v1/instances/" + vm + "/console?bytes=1024", null);
        assertEquals(200, tailReply.status(), tailReply.body());
        assertTrue(tailReply.raw().headers().firstValue("content-type").orElse("").startsWith("text/plain"));
        int tailBytes = tailReply.body().getBytes(StandardCharsets.ISO_8859_1).length;
        assertTrue(tailBytes > 0 && tailBytes <= 1024, "console tail of " + tailBytes + " bytes");
        Reply cTail = agent.call("GET", "/v1/instances/" + c + "/console?bytes=4096", null);
        assertEquals(200, cTail.status(), cTail.body());

        for (UUID u : List.of(c, vm)) {
            String name = "it-snap-" + u.toString().substring(0, 8);
            act(agent, u, "{\"snapshot\": {\"name\": \"" + name + "\"}}", "RUNNING");
            String detail = events(agent, u).stream().filter(e -> e.get("kind").asText().equals("snapshot.end"))
                    .map(e -> e.get("detail").asText()).findFirst()
                    .orElseThrow(() -> new AssertionError("no snapshot.end event for " + u));
            String imageId = detail.replaceFirst("^image ([0-9a-f-]{36}).*$", "$1");
            guests.images.add(imageId);
            Reply img = agent.call("GET", "/v1/images/" + imageId, null);
            assertEquals(200, img.status(), img.body());
            assertEquals(name, img.json().at("/image/name").asText());
            assertTrue(img.json().at("/image/size").asLong() > 0, img.body());
            Guests.step("snapshot of " + u + " -> " + imageId, t0);
        }

        for (UUID u : List.of(c, vm)) {
            Reply d = agent.call("DELETE", "/v1/instances/" + u, null);
            assertEquals(202, d.status(), d.body());
            assertEquals("deleting", d.json().at("/instance/task_state").asText());
        }
        for (UUID u : List.of(c, vm)) {
            agent.awaitInstance(u, Guests.DELETE_LIMIT, "deleted", n -> n == null);
        }
        Guests.step("both destroyed", t0);
        JsonNode host3 = claimed(agent);
        Checks.assertUsage(host2, host3, -2, -384, -2, "after both destroys");
        assertEquals(host0, host3, "claimed is back where it started");
        List<String> leaks = Host.leftovers(guests.instances, guests.ports, agent.stateDir);
        assertTrue(leaks.isEmpty(), () -> "left behind: " + leaks);
    }

    /** Imports the built busybox tarball, guest initrd and kernel (linked to the imported initrd) by file name. */
    private static Map<String, String> importTestImages(AgentProcess agent, Guests guests) throws IOException, InterruptedException {
        JsonNode busybox = TestImages.manifest("berth-busybox");
        JsonNode initrd = TestImages.manifest("berth-guest-initrd");
        JsonNode kernel = TestImages.manifest("berth-guest-kernel");
        String bb = importImage(agent, guests, "it-busybox", "raw", "docker", busybox, "{}");
        String rd = importImage(agent, guests, "it-guest-initrd", "ari", "bare", initrd, "{}");
        String k = importImage(agent, guests, "it-guest-kernel", "aki", "bare", kernel,
                "{\"ramdisk_id\": \"" + rd + "\", \"os_command_line\": \"console=ttyS0\"}");
        Reply list = agent.call("GET", "/v1/images", null);
        assertEquals(200, list.status());
        for (String id : List.of(bb, rd, k)) {
            boolean listed = false;
            for (JsonNode i : list.json().get("images")) {
                listed |= i.get("id").asText().equals(id) && i.get("agent_owned").asBoolean();
            }
            assertTrue(listed, "image " + id + " is listed as the agent's own: " + list.body());
        }
        return Map.of("berth-busybox", bb, "berth-guest-initrd", rd, "berth-guest-kernel", k);
    }

    private static String importImage(AgentProcess agent, Guests guests, String name, String disk, String container,
                                      JsonNode manifest, String properties) throws IOException, InterruptedException {
        String body = """
                {"name": "%s", "disk_format": "%s", "container_format": "%s", "file": "%s", "sha256": "%s",
                 "properties": %s}
                """.formatted(name, disk, container, manifest.get("file").asText(), manifest.get("sha256").asText(),
                properties);
        Reply r = agent.call("POST", "/v1/images", body);
        assertEquals(201, r.status(), r.body());
        String id = r.json().at("/image/id").asText();
        guests.images.add(id);
        assertEquals("/v1/images/" + id, r.raw().headers().firstValue("Location").orElse(null));
        assertEquals(manifest.get("sha256").asText(), r.json().at("/image/sha256").asText());
        return id;
    }

    /** Posts an action, waits for the task to end and checks the power state it ends in. */
    private static void act(AgentProcess agent, UUID uuid, String body, String power) throws IOException, InterruptedException {
        Reply r = agent.call("POST", "/v1/instances/" + uuid + "/action", body);
        if (r.status() != 202) {
            fail(body + " on " + uuid + " answered " + r.status() + ": " + r.body());
        }
        JsonNode i = agent.awaitInstance(uuid, Duration.ofSeconds(240), "done with " + body,
                n -> n != null && n.get("task_state").isNull());
        assertEquals(power, i.get("power_state").asText(), body + " on " + uuid + ": " + i);
        assertTrue(i.get("fault").isNull(), body + " on " + uuid + " left a fault: " + i);
    }

    private static List<JsonNode> events(AgentProcess agent, UUID uuid) throws IOException, InterruptedException {
        Reply r = agent.call("GET", "/v1/instances/" + uuid + "/events", null);
        assertEquals(200, r.status(), r.body());
        List<JsonNode> out = new ArrayList<>();
        r.json().get("events").forEach(out::add);
        return out;
    }

    /** claimed and free of GET /v1/host; free moves opposite to claimed (the limits stay). */
    private static JsonNode claimed(AgentProcess agent) throws IOException, InterruptedException {
        Reply r = agent.call("GET", "/v1/host", null);
        assertEquals(200, r.status(), r.body());
        JsonNode host = r.json().get("host");
        for (String k : List.of("vcpus", "memory_mb", "disk_gb")) {
            assertEquals(host.at("/limits/" + k).asLong() - host.at("/claimed/" + k).asLong(), host.at("/free/" + k).asLong(),
                    "free " + k + " = limit - claimed: " + host);
        }
        return host.get("claimed");
    }
}
