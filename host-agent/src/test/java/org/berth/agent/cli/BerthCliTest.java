package org.berth.agent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.berth.agent.TestAgent;
import org.berth.image.ManifestImageStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The berth CLI, in process, against a real agent (fake driver) on loopback. */
class BerthCliTest {
    private static final long MAX_UPLOAD = 4L << 20;
    private static TestAgent t;

    record Run(int code, String out, String err) {
        JsonNode json() throws Exception {
            return TestAgent.JSON.readTree(out);
        }
    }

    @BeforeAll
    static void start() throws Exception {
        t = new TestAgent("drivers: {fake: {}}\nmax_image_upload_bytes: " + MAX_UPLOAD + "\n");
    }

    @AfterAll
    static void stop() throws Exception {
        t.close();
    }

    /** berth with the agent's URL and state dir (token file), as an operator on the host runs it. */
    static Run berth(String... args) {
        List<String> all = new ArrayList<>(List.of("--url", "http://127.0.0.1:" + t.agent.port(),
                "--state-dir", t.dir.resolve("state").toString()));
        all.addAll(Arrays.asList(args));
        return raw(Map.of(), all.toArray(String[]::new));
    }

    static Run raw(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = BerthCli.run(args, new PrintWriter(out), new PrintWriter(err), env);
        return new Run(code, out.toString(), err.toString());
    }

    private static Run ok(String... args) {
        Run r = berth(args);
        assertEquals(0, r.code(), String.join(" ", args) + " -> " + r);
        return r;
    }

    @Test
    void hostDisableAndEnable() throws Exception {
        Run off = ok("host", "disable", "--reason", "disk swap");
        try {
            assertTrue(off.out().contains("status:              disabled (disk swap)"), off.out());
            assertTrue(ok("host").out().contains("disabled (disk swap)"));
            assertTrue(ok("host").out().contains("placement:           disabled"), "not configured: " + ok("host").out());
            Run refused = berth("spawn", "--driver", "fake", "--name", "no", "--image", "test-disk", "--vcpus", "1",
                    "--memory-mb", "64", "--root-gb", "1");
            assertEquals(1, refused.code(), refused.toString());
            assertTrue(refused.err().contains("409 host (disabled)") && refused.err().contains("disk swap"), refused.err());
            assertEquals(2, berth("host", "disable").code(), "--reason is required");
        } finally {
            Run on = ok("--json", "host", "enable"); // the agent is shared by this class's tests
            assertEquals("enabled", on.json().at("/host/status").asText(), on.out());
        }
        spawn("after-enable");
    }

    private static String spawn(String name) throws Exception {
        Run r = ok("--json", "spawn", "--driver", "fake", "--name", name, "--image", "test-disk", "--vcpus", "1",
                "--memory-mb", "128", "--root-gb", "1", "--nic", "port_id=" + UUID.randomUUID()
                        + ",mac=fa:16:3e:00:00:21,ip=198.18.21.10/24,mtu=1450", "--property", "k=v", "--wait");
        JsonNode i = r.json().get("instance");
        assertEquals("active", i.get("vm_state").asText(), r.out());
        assertTrue(i.get("task_state").isNull(), "--wait returns after the task: " + r.out());
        return i.get("uuid").asText();
    }

    @Test
    void topPrintsNoControlCharacterOfAName() throws Exception {
        // ESC ] 0 ; title BEL retitles a terminal, ESC [ 2 J clears it; C1 CSI (U+009B) and DEL as well
        String evil = "a\u001b]0;owned\u0007b\u001b[2Jc\u009b1md\u007fe\r\nf";
        JsonNode stats = TestAgent.JSON.readTree("""
                {"sampled_at": "2026-12-08T00:00:00Z", "interval_seconds": 10,
                 "drivers": [{"driver": "fake\\u001b[1m", "stale": true}],
                 "instances": [{"uuid": "6f1a7f1e-1b2c-4d3e-8f40-0a1b2c3d4e5f", "name": %s, "driver": "fake",
                                "state": "RUNNING", "stale": false, "memory": {}, "rates": null}]}
                """.formatted(TestAgent.JSON.writeValueAsString(evil)));
        StringWriter out = new StringWriter();
        TopCommand.frame(new PrintWriter(out), stats, TopCommand.Sort.cpu);
        String text = out.toString();
        assertTrue(text.chars().noneMatch(c -> c != '\n' && Character.getType(c) == Character.CONTROL),
                "no control character but the line ends: " + text.replace("\u001b", "<ESC>"));
        assertTrue(text.contains("a?]0;owned?b?[2Jc?1md?e??f"), text);
        assertTrue(text.contains("fake?[1m"), "the stale driver's name too: " + text);
        assertEquals("plain-name", TopCommand.printable("plain-name"));
        assertEquals("caf\u00e9 \u6771", TopCommand.printable("caf\u00e9 \u6771"), "printable non-ASCII stays");
    }

    @Test
    void topOnceSortsInstancesByCpuOrMemoryFromTheLastSamples() throws Exception {
        String big = ok("--json", "spawn", "--driver", "fake", "--name", "top-big", "--image", "test-disk", "--vcpus",
                "4", "--memory-mb", "1024", "--root-gb", "1", "--wait").json().at("/instance/uuid").asText();
        String small = ok("--json", "spawn", "--driver", "fake", "--name", "top-small", "--image", "test-disk",
                "--vcpus", "1", "--memory-mb", "2048", "--root-gb", "1", "--nic", "port_id=" + UUID.randomUUID()
                        + ",mac=fa:16:3e:00:00:31", "--wait").json().at("/instance/uuid").asText();
        try {
            t.agent.stats().sampleNow(Duration.ofSeconds(10));
            Thread.sleep(20);
            t.agent.stats().sampleNow(Duration.ofSeconds(10));
            Run cpu = ok("top", "--once");
            List<String> lines = cpu.out().lines().toList();
            assertTrue(lines.get(0).startsWith("berth top - sampled "), cpu.out());
            assertTrue(lines.get(0).contains("every 10 s") && lines.get(0).contains("sorted by cpu"), lines.get(0));
            assertTrue(lines.get(1).matches("NAME +UUID +DRIVER +STATE +CPU% +MEM +NET RX/s +NET TX/s +DISK R/s "
                    + "+DISK W/s"), lines.get(1));
            assertFalse(cpu.out().contains("\u001b["), "--once does not clear the screen");
            int bigRow = row(lines, "top-big");
            int smallRow = row(lines, "top-small");
            assertTrue(bigRow < smallRow, "4 busy fake vCPUs before 1:\n" + cpu.out());
            String[] bigCells = lines.get(bigRow).split(" +");
            assertEquals(big, bigCells[1]);
            assertEquals("running", bigCells[3]);
            assertTrue(Double.parseDouble(bigCells[4]) > 0, lines.get(bigRow));
            assertEquals("512.0MiB", bigCells[5], "memory used: half the flavor's in the fake");
            assertEquals("0B", bigCells[6], "no VIF, no traffic");
            assertTrue(lines.get(smallRow).split(" +")[6].matches("[0-9.]+(B|KiB|MiB)"), lines.get(smallRow));
            Run memory = ok("top", "--once", "--sort", "memory");
            List<String> byMemory = memory.out().lines().toList();
            assertTrue(row(byMemory, "top-small") < row(byMemory, "top-big"), "2048 MiB before 1024:\n" + memory.out());
            JsonNode json = ok("--json", "top", "--once").json();
            assertTrue(json.at("/stats/instances").size() >= 2, json.toString());
            Run bad = berth("top", "--once", "--sort", "price");
            assertEquals(BerthCli.EXIT_USAGE, bad.code(), bad.toString());
            assertTrue(bad.err().contains("--sort"), bad.err());
        } finally {
            ok("delete", big, "--wait");
            ok("delete", small, "--wait");
        }
    }

    private static int row(List<String> lines, String name) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(name + " ")) {
                return i;
            }
        }
        throw new AssertionError(name + " not in:\n" + String.join("\n", lines));
    }

    @Test
    void guestOptionsReachTheSpec() throws Exception {
        Path key = t.dir.resolve("cli-key.pub");
        String pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOAi8DCad64FWUWjXvAzu5GNWRhC6u6RluroDikfPca1 cli@berth";
        Files.writeString(key, pub + "\n");
        Path userData = t.dir.resolve("cli-user-data");
        Files.writeString(userData, "#cloud-config\nruncmd: [echo hi]\n");
        Run r = ok("--json", "spawn", "--driver", "fake", "--name", "cli_guest", "--image", "test-disk", "--vcpus", "1",
                "--memory-mb", "128", "--meta", "role=web", "--public-key", "mine=" + key, "--user-data",
                userData.toString(), "--config-drive", "false", "--wait");
        JsonNode spec = r.json().at("/instance/spec");
        assertEquals("cli-guest", spec.get("hostname").asText(), "the hostname comes from the name: " + spec);
        assertEquals("web", spec.at("/metadata/role").asText());
        assertEquals(pub, spec.at("/public_keys/mine").asText());
        assertEquals("#cloud-config\nruncmd: [echo hi]\n", new String(java.util.Base64.getDecoder().decode(
                spec.get("user_data").asText()), java.nio.charset.StandardCharsets.UTF_8));
        assertFalse(spec.get("config_drive").asBoolean());
        String uuid = r.json().at("/instance/uuid").asText();
        JsonNode listed = null;
        for (JsonNode i : ok("list", "--json", "--driver", "fake").json().get("instances")) {
            listed = i.get("uuid").asText().equals(uuid) ? i.get("spec") : listed;
        }
        assertEquals(32, listed.get("user_data_bytes").asInt(), "the list tells the user data's size only: " + listed);
        assertFalse(listed.has("user_data"));

        Files.writeString(key, "ssh-ed25519 not-a-key\n");
        Run bad = berth("spawn", "--driver", "fake", "--name", "x", "--image", TestAgent.IMAGE_ID, "--vcpus", "1",
                "--memory-mb", "128", "--public-key", "mine=" + key, "--hostname", "ok");
        assertEquals(BerthCli.EXIT_API_ERROR, bad.code());
        assertTrue(bad.err().contains("public_keys.mine"), bad.err());
        Files.write(userData, new byte[70000]);
        Run big = berth("spawn", "--driver", "fake", "--name", "x", "--image", TestAgent.IMAGE_ID, "--vcpus", "1",
                "--memory-mb", "128", "--user-data", userData.toString());
        assertEquals(BerthCli.EXIT_USAGE, big.code());
        assertTrue(big.err().contains("--user-data") && big.err().contains("at most 65535"), big.err());
    }

    @Test
    void tablesByDefaultJsonOnRequest() throws Exception {
        String uuid = spawn("cli-table");
        Run table = ok("list");
        String[] lines = table.out().split("\n");
        assertTrue(lines[0].matches("UUID\\s+NAME\\s+DRIVER\\s+VM_STATE\\s+POWER_STATE\\s+TASK_STATE"), lines[0]);
        assertTrue(Arrays.stream(lines).anyMatch(l -> l.matches(uuid + "\\s+cli-table\\s+fake\\s+active\\s+RUNNING\\s+-")),
                table.out());

        Run json = ok("list", "--json", "--driver", "fake");
        assertTrue(json.json().get("instances").findValuesAsText("uuid").contains(uuid), json.out());

        Run show = ok("show", uuid);
        assertTrue(show.out().contains("uuid:") && show.out().contains(uuid), show.out());
        assertEquals("1450", ok("--json", "show", uuid).json().at("/instance/spec/vifs/0/mtu").asText());
        assertEquals("v", ok("--json", "show", uuid).json().at("/instance/spec/properties/k").asText());

        Run host = ok("host");
        assertTrue(host.out().contains("RESOURCE") && host.out().lines().anyMatch(l -> l.startsWith("vcpus ")),
                host.out());
        assertTrue(ok("host", "--json").json().at("/host/vcpus_used").isNumber());

        Run drivers = ok("drivers");
        assertTrue(drivers.out().lines().anyMatch(l -> l.matches("fake\\s+true\\s+fake\\s+\\S+\\s+.*pause.*")), drivers.out());
        assertEquals("fake", ok("drivers", "--json").json().at("/drivers/0/name").asText());

        Run images = ok("images");
        assertTrue(images.out().contains(TestAgent.IMAGE_ID) && images.out().contains("test-disk"), images.out());
        assertEquals(ok("images", "list").out(), images.out());

        assertEquals(0, berth("delete", uuid, "--wait").code());
        assertFalse(ok("list").out().contains(uuid));
    }

    @Test
    void actionsConsoleAndEventHistory() throws Exception {
        String uuid = spawn("cli-actions");
        assertEquals("paused", ok("--json", "pause", uuid, "--wait").json().at("/instance/vm_state").asText());
        Run badName = berth("snapshot", uuid, "bad name!");
        assertEquals(BerthCli.EXIT_API_ERROR, badName.code(), badName.toString());
        assertTrue(badName.err().startsWith("berth: 400 snapshot.name (name): "), badName.err());
        assertEquals("active", ok("--json", "unpause", uuid, "--wait").json().at("/instance/vm_state").asText());
        assertEquals("active", ok("--json", "reboot", "--hard", uuid, "--wait").json().at("/instance/vm_state").asText());
        assertEquals("stopped", ok("--json", "stop", uuid, "--wait").json().at("/instance/vm_state").asText());
        assertEquals("active", ok("--json", "start", uuid, "--wait").json().at("/instance/vm_state").asText());
        assertEquals("suspended", ok("--json", "suspend", uuid, "--wait").json().at("/instance/vm_state").asText());
        assertEquals("active", ok("--json", "resume", uuid, "--wait").json().at("/instance/vm_state").asText());
        ok("snapshot", uuid, "cli-snap", "--wait");
        assertTrue(ok("images").out().contains("cli-snap"));

        Run console = ok("console", uuid, "--bytes", "4096");
        assertEquals(new String(t.fake().consoleLog(UUID.fromString(uuid), 4096)), console.out());
        assertEquals(1, berth("console", uuid, "--bytes", "0").code());

        Run events = ok("events", uuid);
        assertTrue(events.out().startsWith("ID"), events.out());
        for (String kind : List.of("spawn", "pause", "reboot", "snapshot")) {
            assertTrue(events.out().contains(kind), kind + " in " + events.out());
        }
        assertTrue(ok("events", uuid, "--json").json().get("events").size() >= 8);
        ok("delete", uuid, "--wait");
    }

    @Test
    void errorsNameTheFieldAndSetTheExitCode() throws Exception {
        Run badUuid = berth("show", "not-a-uuid");
        assertEquals(BerthCli.EXIT_API_ERROR, badUuid.code());
        assertEquals("berth: 400 uuid (uuid): uuid: 'not-a-uuid' must be a UUID (8-4-4-4-12 hex digits)",
                badUuid.err().strip());
        assertEquals("", badUuid.out());

        Run missing = berth("--json", "show", UUID.randomUUID().toString());
        assertEquals(BerthCli.EXIT_API_ERROR, missing.code());
        assertTrue(missing.err().startsWith("berth: 404 uuid (not_found)"), missing.err());
        assertEquals("not_found", missing.json().at("/error/rule").asText(), "--json prints the error body too");

        Run badFlavor = berth("spawn", "--driver", "fake", "--name", "x", "--image", TestAgent.IMAGE_ID,
                "--vcpus", "-1", "--memory-mb", "128");
        assertEquals(BerthCli.EXIT_API_ERROR, badFlavor.code());
        assertTrue(badFlavor.err().startsWith("berth: 400 flavor.vcpus "), badFlavor.err());

        Run badDriver = berth("list", "--driver", "nope");
        assertTrue(badDriver.err().startsWith("berth: 400 driver (unknown_driver)"), badDriver.err());

        Run badNic = berth("spawn", "--driver", "fake", "--name", "x", "--image", TestAgent.IMAGE_ID, "--vcpus", "1",
                "--memory-mb", "128", "--nic", "port_id=" + UUID.randomUUID() + ",mac=nope");
        assertEquals(BerthCli.EXIT_API_ERROR, badNic.code());
        assertTrue(badNic.err().contains("vifs[0].mac") || badNic.err().contains("mac"), badNic.err());

        Run noImage = berth("spawn", "--driver", "fake", "--name", "x", "--image", "no-such-image", "--vcpus", "1",
                "--memory-mb", "128");
        assertEquals(BerthCli.EXIT_USAGE, noImage.code());
        assertTrue(noImage.err().contains("--image: no image is named 'no-such-image'"), noImage.err());

        Run usage = berth("reboot");
        assertEquals(BerthCli.EXIT_USAGE, usage.code());
        assertTrue(usage.err().contains("Missing required parameter: 'UUID'"), usage.err());
        assertEquals(BerthCli.EXIT_USAGE, berth("no-such-command").code());
        Run none = berth();
        assertEquals(BerthCli.EXIT_USAGE, none.code());
        assertTrue(none.err().startsWith("berth: a command is required") && none.err().contains("Commands:"), none.err());
        assertEquals(BerthCli.EXIT_USAGE, berth("events").code(), "events needs a uuid or --follow");

        Run badToken = raw(Map.of("BERTH_TOKEN", "wrong"), "--url", "http://127.0.0.1:" + t.agent.port(), "host");
        assertEquals(BerthCli.EXIT_API_ERROR, badToken.code());
        assertTrue(badToken.err().startsWith("berth: 401 Authorization (bearer_token)"), badToken.err());

        Run envToken = raw(Map.of("BERTH_TOKEN", t.token(), "BERTH_URL", "http://127.0.0.1:" + t.agent.port()), "host");
        assertEquals(0, envToken.code(), envToken.toString());

        Run noTokenFile = raw(Map.of(), "--url", "http://127.0.0.1:" + t.agent.port(), "--state-dir",
                t.dir.resolve("nowhere").toString(), "host");
        assertEquals(BerthCli.EXIT_UNREACHABLE, noTokenFile.code());
        assertTrue(noTokenFile.err().contains("token"), noTokenFile.err());

        Run down = raw(Map.of("BERTH_TOKEN", "x"), "--url", "http://127.0.0.1:1", "--timeout", "2s", "list");
        assertEquals(BerthCli.EXIT_UNREACHABLE, down.code());
        assertTrue(down.err().startsWith("berth: cannot reach the agent at http://127.0.0.1:1"), down.err());
    }

    @Test
    void spawnFromASpecFileWithOptionsOverridingIt() throws Exception {
        Path spec = t.dir.resolve("spec.json");
        Files.writeString(spec, TestAgent.spawnBody("fake", "from-file", 128));
        Run r = ok("--json", "spawn", "--file", spec.toString(), "--name", "from-file-renamed", "--wait");
        JsonNode i = r.json().get("instance");
        assertEquals("from-file-renamed", i.get("name").asText());
        assertEquals(128, i.at("/spec/flavor/memory_mb").asInt());
        ok("delete", i.get("uuid").asText(), "--wait");

        Files.writeString(spec, "{\"driver\": \"fake\", \"bogus\": 1}");
        Run bad = berth("spawn", "--file", spec.toString());
        assertEquals(BerthCli.EXIT_API_ERROR, bad.code());
        assertTrue(bad.err().startsWith("berth: 400 bogus "), bad.err());
    }

    @Test
    void eventsFollowPrintsLiveEventsForABoundedTime() throws Exception {
        String uuid = spawn("cli-follow");
        long t0 = System.nanoTime();
        CompletableFuture<Run> follow = CompletableFuture.supplyAsync(() -> berth("events", "--follow", uuid,
                "--for", "6s", "--json", "--timeout", "2s")); // the request timeout bounds the wait for headers only
        // it subscribes asynchronously: keep acting until it ends (bounded)
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!follow.isDone() && System.nanoTime() < deadline) {
            ok("reboot", uuid, "--wait");
        }
        Run r = follow.get(20, TimeUnit.SECONDS);
        long took = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(0, r.code(), r.toString());
        assertTrue(took >= 5_900 && took < 20_000, "--for 6s ended after " + took + " ms");
        List<JsonNode> events = new ArrayList<>();
        for (String line : r.out().split("\n")) {
            events.add(TestAgent.JSON.readTree(line));
        }
        assertFalse(events.isEmpty(), r.toString());
        assertTrue(events.stream().allMatch(e -> e.get("uuid").asText().equals(uuid)), r.out());
        assertTrue(events.stream().anyMatch(e -> e.get("kind").asText().startsWith("reboot")), r.out());

        // --count ends the stream as soon as enough events arrived; human lines name the instance
        CompletableFuture<Run> two = CompletableFuture.supplyAsync(() -> berth("events", "-f", "--count", "2",
                "--for", "20s"));
        long stop = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!two.isDone() && System.nanoTime() < stop) {
            ok("reboot", uuid, "--wait");
        }
        Run counted = two.get(20, TimeUnit.SECONDS);
        assertEquals(0, counted.code(), counted.toString());
        assertEquals(2, counted.out().lines().count(), counted.out());
        assertTrue(counted.out().lines().allMatch(l -> l.contains(uuid)), counted.out());
        ok("delete", uuid, "--wait");
    }

    @Test
    void imagesUploadImportAndDelete() throws Exception {
        Path local = t.dir.resolve("local.qcow2");
        byte[] bytes = new byte[3 << 20];
        new Random(7).nextBytes(bytes);
        Files.write(local, bytes);
        String sha = ManifestImageStore.sha256(local);

        Run up = ok("--json", "images", "upload", local.toString(), "--name", "cli-up");
        JsonNode image = up.json().get("image");
        assertEquals(sha, image.get("sha256").asText());
        assertEquals("qcow2", image.get("disk_format").asText(), "the format follows the extension");
        assertEquals(bytes.length, image.get("size").asLong());

        Run wrong = berth("images", "upload", local.toString(), "--name", "cli-bad", "--sha256", "1".repeat(64));
        assertEquals(BerthCli.EXIT_API_ERROR, wrong.code());
        assertTrue(wrong.err().startsWith("berth: 400 sha256 (mismatch)"), wrong.err());
        assertNoPartFiles();
        assertFalse(ok("images").out().contains("cli-bad"));

        Path big = t.dir.resolve("big.raw");
        Files.write(big, new byte[(int) MAX_UPLOAD + 1]);
        Run tooBig = berth("images", "upload", big.toString());
        assertEquals(BerthCli.EXIT_API_ERROR, tooBig.code());
        assertTrue(tooBig.err().startsWith("berth: 413 body (max_size)"), tooBig.err());
        assertNoPartFiles();

        Path importDir = t.dir.resolve("state/import");
        Files.createDirectories(importDir);
        Files.copy(local, importDir.resolve("cli-import.qcow2"));
        Run imported = ok("images", "import", "cli-import.qcow2", "--sha256", sha, "--name", "cli-imported");
        assertTrue(imported.out().lines().anyMatch(l -> l.contains("cli-imported") && l.contains("qcow2")),
                imported.out());
        JsonNode withProps = ok("--json", "images", "import", "cli-import.qcow2", "--sha256", sha, "--name",
                "cli-props", "--property", "os_command_line=console=ttyS0 a=b", "--property", "k=v").json();
        assertEquals("console=ttyS0 a=b", withProps.at("/image/properties/os_command_line").asText(), withProps.toString());
        assertEquals("v", withProps.at("/image/properties/k").asText(), withProps.toString());
        Run outside = berth("images", "import", "../token", "--sha256", sha);
        assertEquals(BerthCli.EXIT_API_ERROR, outside.code());
        assertTrue(outside.err().startsWith("berth: 400 file (not_in_image_dir)"), outside.err());

        String id = image.get("id").asText();
        assertEquals("deleted image " + id, ok("images", "delete", id).out().strip());
        Run readOnly = berth("images", "delete", TestAgent.IMAGE_ID);
        assertEquals(BerthCli.EXIT_API_ERROR, readOnly.code());
        assertTrue(readOnly.err().startsWith("berth: 409 id (read_only)"), readOnly.err());
    }

    private static void assertNoPartFiles() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            List<Path> parts;
            try (Stream<Path> s = Files.list(t.dir.resolve("state/images"))) {
                parts = s.filter(p -> p.getFileName().toString().endsWith(".part")).toList();
            }
            if (parts.isEmpty()) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, "temp files left: " + parts);
            Thread.sleep(20);
        }
    }
}
