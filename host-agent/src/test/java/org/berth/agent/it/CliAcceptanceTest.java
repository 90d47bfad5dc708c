package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.berth.agent.TestAgent;
import org.berth.agent.cli.BerthCli;
import org.berth.lab.TestImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 6 acceptance through the {@code berth} CLI (run in process, output captured) against the real agent
 * process with the docker and kvm drivers on br-int (198.18.25.0/24): upload/import the test images, spawn a
 * container and a VM, see them RUNNING in {@code list}/{@code show}, ping between them, pause/unpause, hard reboot,
 * console tail, snapshot, delete; {@code host --json} shows the claimed usage rising and falling. Whatever the test
 * leaves is destroyed through the API by {@link Guests#withAgent} and the host is checked for leftovers.
 */
class CliAcceptanceTest {
    private static final String C_IP = "198.18.25.10";
    private static final String VM_IP = "198.18.25.11";
    private static final String WAIT = "6m";

    @Test
    @Timeout(1500)
    void containerAndVmThroughTheCli() throws Exception {
        Guests.withAgent("CliAcceptanceTest", new Guests(), CliAcceptanceTest::run);
    }

    /** One CLI run: exit code and what it printed. */
    record Run(List<String> args, int code, String out, String err) {
        JsonNode json() {
            try {
                return TestAgent.JSON.readTree(out);
            } catch (IOException e) {
                return fail("berth " + String.join(" ", args) + " did not print JSON: " + this);
            }
        }
    }

    /** {@code berth --url <agent> --state-dir <agent's state> ...}, as an operator on the host runs it. */
    private record Cli(AgentProcess agent) {
        Run run(String... args) {
            List<String> all = new ArrayList<>(List.of("--url", "http://127.0.0.1:" + agent.port(),
                    "--state-dir", agent.stateDir.toString(), "--timeout", "60s"));
            all.addAll(Arrays.asList(args));
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int code = BerthCli.run(all.toArray(String[]::new), new PrintWriter(out), new PrintWriter(err), Map.of());
            return new Run(List.of(args), code, out.toString(), err.toString());
        }

        Run ok(String... args) {
            Run r = run(args);
            if (r.code() != 0) {
                fail("berth " + String.join(" ", args) + " exited " + r.code() + ": " + r.err() + r.out()
                        + "\nagent log:\n" + agent.logTail(3000));
            }
            return r;
        }

        /** {@code berth --json ARGS}, which must succeed. */
        JsonNode json(String... args) {
            String[] all = new String[args.length + 1];
            all[0] = "--json";
            System.arraycopy(args, 0, all, 1, args.length);
            return ok(all).json();
        }

        JsonNode claimed() {
            return json("host").at("/host/claimed");
        }

        /** The instance's task ended with this power state and no fault (the output of a --wait command). */
        static JsonNode settled(JsonNode answer, String power, String what) {
            JsonNode i = answer.path("instance");
            assertTrue(i.path("task_state").isNull(), what + " returned before its task ended: " + i);
            assertEquals(power, i.path("power_state").asText(), what + ": " + i);
            assertTrue(i.path("fault").isNull(), what + " left a fault: " + i);
            return i;
        }
    }

    private static void run(AgentProcess agent, Guests guests, long t0) throws Exception {
        Cli cli = new Cli(agent);
        Guests.step("agent up", t0);
        JsonNode host0 = cli.claimed();
        assertTrue(cli.ok("host").out().lines().anyMatch(l -> l.startsWith("RESOURCE") && l.contains("CLAIMED")),
                "berth host prints the capacity table");

        String tag = UUID.randomUUID().toString().substring(0, 8);
        Map<String, String> images = importTestImages(cli, guests, tag);
        Guests.step("3 images uploaded/imported", t0);

        UUID c = UUID.randomUUID();
        String cPort = track(guests, c);
        JsonNode cRec = Cli.settled(cli.json("spawn", "--driver", "docker", "--uuid", c.toString(), "--name",
                "cli-c-" + tag, "--image", "cli-busybox-" + tag, "--flavor", "cli.c", "--vcpus", "1", "--memory-mb",
                "128", "--root-gb", "1", "--nic", "port_id=" + cPort + ",mac=" + Guests.mac("25") + ",ip=" + C_IP
                        + "/24,bridge=br-int", "--wait", "--wait-timeout", WAIT), "RUNNING", "spawn container");
        assertEquals("active", cRec.path("vm_state").asText(), cRec.toString());
        assertEquals(images.get("busybox"), cRec.at("/spec/image_id").asText(), "--image by name: " + cRec);
        Guests.step("container RUNNING", t0);
        JsonNode host1 = cli.claimed();
        Checks.assertUsage(host0, host1, 1, 128, 1, "after the container spawn");

        UUID vm = UUID.randomUUID();
        String vmPort = track(guests, vm);
        String vmMac = Guests.mac("25");
        JsonNode vmRec = Cli.settled(cli.json("spawn", "--driver", "kvm", "--uuid", vm.toString(), "--name",
                "cli-vm-" + tag, "--image", images.get("kernel"), "--flavor", "cli.vm", "--vcpus", "1",
                "--memory-mb", "256", "--root-gb", "1", "--nic", "port_id=" + vmPort + ",mac=" + vmMac
                        + ",bridge=br-int,ip=" + VM_IP + "/24", "--hostname", "cli-vm", "--property",
                "os_command_line=console=ttyS0 berth.ping=" + C_IP, "--wait", "--wait-timeout", WAIT),
                "RUNNING", "spawn VM");
        assertEquals("active", vmRec.path("vm_state").asText(), vmRec.toString());
        Guests.step("VM RUNNING", t0);
        JsonNode host2 = cli.claimed();
        Checks.assertUsage(host1, host2, 1, 256, 1, "after the VM spawn");

        seeBothRunning(cli, c, vm);
        Guests.step("list/show: both RUNNING, OVS ports active", t0);

        String console = awaitConsole(cli, vm, "BERTH-PING " + C_IP, Duration.ofSeconds(300));
        assertTrue(console.contains("BERTH-PING " + C_IP + " ok"),
                "the VM pinged the container: " + Checks.tail(console));
        Guests.step("VM -> container ping ok (berth console)", t0);
        Checks.awaitPing(c, VM_IP, Duration.ofSeconds(90));
        Guests.step("container -> VM ping ok", t0);

        for (UUID u : List.of(c, vm)) {
            Cli.settled(cli.json("pause", u.toString(), "--wait", "--wait-timeout", WAIT), "PAUSED", "pause " + u);
            assertEquals("PAUSED", cli.json("show", u.toString()).at("/instance/power_state").asText());
            Cli.settled(cli.json("unpause", u.toString(), "--wait", "--wait-timeout", WAIT), "RUNNING", "unpause " + u);
        }
        Guests.step("pause/unpause both", t0);

        for (UUID u : List.of(c, vm)) {
            Cli.settled(cli.json("reboot", "--hard", u.toString(), "--wait", "--wait-timeout", WAIT), "RUNNING",
                    "reboot --hard " + u);
            assertFalse(eventsOf(cli, u, "reboot.end").isEmpty(), "reboot.end in berth events " + u);
        }
        Guests.step("hard reboot both", t0);
        Checks.awaitPing(c, VM_IP, Duration.ofSeconds(300));
        Guests.step("container -> VM ping ok after the reboots", t0);

        String vmTail = cli.ok("console", vm.toString(), "--bytes", "1024").out();
        assertTrue(!vmTail.isEmpty() && vmTail.length() <= 1024, "console tail of " + vmTail.length() + " chars");
        JsonNode cTail = cli.json("console", c.toString(), "--bytes", "4096");
        assertEquals(c.toString(), cTail.path("uuid").asText(), cTail.toString());
        assertTrue(cTail.path("console").isTextual() && cTail.path("console").asText().length() <= 4096,
                cTail.toString());
        Guests.step("console tails", t0);

        for (UUID u : List.of(c, vm)) {
            String name = "cli-snap-" + u.toString().substring(0, 8);
            Cli.settled(cli.json("snapshot", u.toString(), name, "--wait", "--wait-timeout", WAIT), "RUNNING",
                    "snapshot " + u);
            String detail = eventsOf(cli, u, "snapshot.end").stream().findFirst()
                    .orElseThrow(() -> new AssertionError("no snapshot.end in berth events " + u));
            String imageId = detail.replaceFirst("^image ([0-9a-f-]{36}).*$", "$1");
            guests.images.add(imageId);
            JsonNode img = imageListed(cli, imageId);
            assertEquals(name, img.path("name").asText(), img.toString());
            assertTrue(img.path("size").asLong() > 0, img.toString());
            Guests.step("snapshot of " + u + " -> " + imageId, t0);
        }

        for (UUID u : List.of(c, vm)) {
            JsonNode gone = cli.json("delete", u.toString(), "--wait", "--wait-timeout", WAIT);
            assertEquals(u.toString(), gone.path("deleted").asText(), gone.toString());
            Run show = cli.run("show", u.toString());
            assertEquals(1, show.code(), "show after delete: " + show);
            assertTrue(show.err().startsWith("berth: 404"), show.err());
        }
        Guests.step("both destroyed", t0);
        JsonNode host3 = cli.claimed();
        Checks.assertUsage(host2, host3, -2, -384, -2, "after both deletes");
        assertEquals(host0, host3, "claimed is back where it started");

        for (String id : List.copyOf(guests.images)) {
            assertEquals("{\"deleted\": \"" + id + "\"}", cli.ok("--json", "images", "delete", id).out().strip());
        }
        String left = cli.ok("--json", "images", "list").out();
        guests.images.forEach(id -> assertFalse(left.contains(id), "image " + id + " still listed"));
        List<String> leaks = Host.leftovers(guests.instances, guests.ports, agent.instancesPath);
        assertTrue(leaks.isEmpty(), () -> "left behind: " + leaks);
        Guests.step("images deleted, host clean", t0);
    }

    /** busybox and the initrd uploaded (streamed), the kernel imported by file name, linked to the initrd. */
    private static Map<String, String> importTestImages(Cli cli, Guests guests, String tag) throws IOException {
        Path dir = TestImages.dir();
        JsonNode busybox = TestImages.manifest("berth-busybox");
        JsonNode initrd = TestImages.manifest("berth-guest-initrd");
        JsonNode kernel = TestImages.manifest("berth-guest-kernel");
        String bb = added(guests, busybox, cli.json("images", "upload", dir.resolve(busybox.get("file").asText())
                .toString(), "--name", "cli-busybox-" + tag, "--disk-format", "raw", "--container-format", "docker"));
        String rd = added(guests, initrd, cli.json("images", "upload", dir.resolve(initrd.get("file").asText())
                .toString(), "--name", "cli-guest-initrd-" + tag, "--disk-format", "ari"));
        JsonNode k = cli.json("images", "import", kernel.get("file").asText(), "--sha256",
                kernel.get("sha256").asText(), "--name", "cli-guest-kernel-" + tag, "--disk-format", "aki",
                "--property", "ramdisk_id=" + rd, "--property", "os_command_line=console=ttyS0");
        String kid = added(guests, kernel, k);
        assertEquals(rd, k.at("/image/properties/ramdisk_id").asText(), k.toString());
        for (String id : List.of(bb, rd, kid)) {
            assertTrue(imageListed(cli, id).path("agent_owned").asBoolean(), "image " + id + " is the agent's own");
        }
        assertTrue(cli.ok("images").out().lines().anyMatch(l -> l.startsWith(kid) && l.contains("aki")),
                "berth images shows the kernel");
        return Map.of("busybox", bb, "initrd", rd, "kernel", kid);
    }

    private static String added(Guests guests, JsonNode manifest, JsonNode answer) {
        String id = answer.at("/image/id").asText();
        assertFalse(id.isEmpty(), answer.toString());
        guests.images.add(id);
        assertEquals(manifest.get("sha256").asText(), answer.at("/image/sha256").asText(), answer.toString());
        return id;
    }

    private static JsonNode imageListed(Cli cli, String id) {
        for (JsonNode i : cli.json("images", "list").path("images")) {
            if (i.path("id").asText().equals(id)) {
                return i;
            }
        }
        return fail("image " + id + " is not in berth images list");
    }

    private static List<String> eventsOf(Cli cli, UUID uuid, String kind) {
        List<String> details = new ArrayList<>();
        cli.json("events", uuid.toString()).path("events").forEach(e -> {
            if (e.path("kind").asText().equals(kind)) {
                details.add(e.path("detail").asText());
            }
        });
        return details;
    }

    /** list --json, list --driver, the human table once, show --json and the OVS ports behind them. */
    private static void seeBothRunning(Cli cli, UUID c, UUID vm) {
        Map<String, String> drivers = Map.of(c.toString(), "docker", vm.toString(), "kvm");
        int seen = 0;
        for (JsonNode i : cli.json("list").path("instances")) {
            String driver = drivers.get(i.path("uuid").asText());
            if (driver != null) {
                seen++;
                assertEquals(driver, i.path("driver").asText(), i.toString());
                assertEquals("RUNNING", i.path("power_state").asText(), i.toString());
                assertEquals("active", i.path("vm_state").asText(), i.toString());
            }
        }
        assertEquals(2, seen, "berth list shows both");
        JsonNode kvmOnly = cli.json("list", "--driver", "kvm").path("instances");
        assertTrue(kvmOnly.findValuesAsText("uuid").contains(vm.toString()), kvmOnly.toString());
        assertFalse(kvmOnly.findValuesAsText("uuid").contains(c.toString()), kvmOnly.toString());

        String table = cli.ok("list").out();
        assertTrue(table.lines().findFirst().orElse("").matches("UUID\\s+NAME\\s+DRIVER\\s+VM_STATE\\s+POWER_STATE"
                + "\\s+TASK_STATE"), table);
        for (var e : drivers.entrySet()) {
            assertTrue(table.lines().anyMatch(l -> l.matches(e.getKey() + "\\s+cli-\\S+\\s+" + e.getValue()
                    + "\\s+active\\s+RUNNING\\s+-")), "row of " + e.getKey() + " in\n" + table);
        }
        assertTrue(cli.ok("show", vm.toString()).out().lines().anyMatch(l -> l.matches("power_state:\\s+RUNNING")));

        for (UUID u : List.of(c, vm)) {
            Checks.assertPlugged(cli.json("show", u.toString()).path("instance"), u.toString());
        }
    }

    /** Polls {@code berth console} until it shows {@code marker} followed by a line end. */
    private static String awaitConsole(Cli cli, UUID uuid, String marker, Duration limit)
            throws IOException, InterruptedException {
        return Checks.awaitConsole("berth console " + uuid, () -> {
            Run r = cli.run("console", "--log", uuid.toString());
            return r.code() == 0 ? r.out() : null;
        }, marker, limit, 2000);
    }

    /** Tracks the instance and returns a fresh port id for its VIF (tracked too). */
    private static String track(Guests guests, UUID uuid) {
        guests.instances.add(uuid);
        return guests.newPort();
    }
}
