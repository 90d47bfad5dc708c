package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.berth.agent.TestAgent.Reply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 6 acceptance: without the token everything but /healthz is 401; bad requests get 400/404/409/413 with the
 * field named (in {@code error.field} and in the message), and none of them creates anything on a backend.
 * Every body carries an explicit uuid and port ids the test tracks, so "nothing created" is checked on the host
 * for exactly those (the host is shared with other tests).
 */
class BadRequestsTest {
    /** One bad request and what the agent must say: status, {@code error.field}, a word the message must contain. */
    record Case(String what, String method, String path, String body, int status, String field, String mentions) {
    }

    private final Guests guests = new Guests();
    private final List<String> usedUuids = new ArrayList<>();

    private String uuid() {
        UUID u = UUID.randomUUID();
        guests.instances.add(u);
        usedUuids.add(u.toString());
        return u.toString();
    }

    private String port() {
        return guests.newPort();
    }

    /** A valid container spawn body with {@code patch} applied: "flavor" → replaced text, etc. */
    private String body(String driver, String image, String flavor, String vifs, String extra) {
        return """
                {"driver": %s, "uuid": "%s", "name": "it-bad", "image_id": %s, "flavor": %s, "vifs": %s%s}
                """.formatted(driver, uuid(), image, flavor, vifs, extra);
    }

    private String flavor(String vcpus, String memory, String root) {
        return "{\"name\": \"it.bad\", \"vcpus\": " + vcpus + ", \"memory_mb\": " + memory + ", \"root_gb\": " + root + "}";
    }

    private String vif(String portId, String mac, String more) {
        return "[{\"port_id\": \"" + portId + "\", \"mac\": \"" + mac + "\"" + more + "}]";
    }

    private String spawnWith(String flavor, String vifs, String extra) {
        return body("\"docker\"", "\"" + Guests.busybox() + "\"", flavor, vifs, extra);
    }

    private String seventeenVifs() {
        List<String> vifs = new ArrayList<>();
        for (int i = 0; i < 17; i++) {
            vifs.add("{\"port_id\": \"" + port() + "\", \"mac\": \"fa:16:3e:22:01:" + String.format("%02x", i) + "\"}");
        }
        return "[" + String.join(", ", vifs) + "]";
    }

    /** Another port id with the same first 11 characters, so the same tap device name. */
    private static String twin(String port) {
        return port.substring(0, 11) + (port.charAt(11) == '0' ? '1' : '0') + port.substring(12);
    }

    private static String sha0() {
        return "0".repeat(64);
    }

    private List<Case> cases(UUID existing, String existingPort, Path importDir) throws Exception {
        String okFlavor = flavor("1", "128", "1");
        String okVifs = vif(port(), "fa:16:3e:22:00:01", "");
        String p = "/v1/instances";
        List<Case> c = new ArrayList<>();
        c.add(new Case("malformed JSON", "POST", p, "{\"driver\": \"docker\", \"name\": ", 400, "body", "JSON"));
        c.add(new Case("empty body", "POST", p, "", 400, "body", "body"));
        c.add(new Case("body is a list", "POST", p, "[1, 2]", 400, "body", "object"));
        c.add(new Case("unknown top-level field", "POST", p, spawnWith(okFlavor, okVifs, ", \"colour\": \"red\""),
                400, "colour", "colour"));
        c.add(new Case("unknown flavor field", "POST", p, spawnWith(
                "{\"name\": \"x\", \"vcpus\": 1, \"memory_mb\": 128, \"cpus\": 2}", okVifs, ""), 400, "flavor.cpus", "flavor.cpus"));
        c.add(new Case("unknown vif field", "POST", p, spawnWith(okFlavor,
                vif(port(), "fa:16:3e:22:00:02", ", \"speed\": 1000"), ""), 400, "vifs[0].speed", "vifs[0].speed"));
        c.add(new Case("no driver", "POST", p, spawnWith(okFlavor, okVifs, "").replace("\"driver\": \"docker\",", ""),
                400, "driver", "driver"));
        c.add(new Case("unknown driver", "POST", p, body("\"xen\"", "\"" + Guests.busybox() + "\"", okFlavor, okVifs, ""),
                400, "driver", "driver"));
        c.add(new Case("driver not a string", "POST", p, body("42", "\"" + Guests.busybox() + "\"", okFlavor, okVifs, ""),
                400, "driver", "driver"));
        c.add(new Case("no name", "POST", p, spawnWith(okFlavor, okVifs, "").replace("\"name\": \"it-bad\",", ""),
                400, "name", "name"));
        c.add(new Case("name with a slash", "POST", p, spawnWith(okFlavor, okVifs, "").replace("\"it-bad\"", "\"it/../bad\""),
                400, "name", "name"));
        c.add(new Case("no flavor", "POST", p, spawnWith("null", okVifs, ""), 400, "flavor", "flavor"));
        c.add(new Case("negative vcpus", "POST", p, spawnWith(flavor("-1", "128", "1"), okVifs, ""), 400, "flavor.vcpus", "flavor.vcpus"));
        c.add(new Case("zero vcpus", "POST", p, spawnWith(flavor("0", "128", "1"), okVifs, ""), 400, "flavor.vcpus", "flavor.vcpus"));
        c.add(new Case("vcpus as text", "POST", p, spawnWith(flavor("\"two\"", "128", "1"), okVifs, ""), 400, "flavor.vcpus", "flavor.vcpus"));
        c.add(new Case("fractional vcpus", "POST", p, spawnWith(flavor("1.5", "128", "1"), okVifs, ""), 400, "flavor.vcpus", "flavor.vcpus"));
        c.add(new Case("vcpus over the flavor limit", "POST", p, spawnWith(flavor("100000", "128", "1"), okVifs, ""),
                400, "flavor.vcpus", "flavor.vcpus"));
        c.add(new Case("negative memory", "POST", p, spawnWith(flavor("1", "-512", "1"), okVifs, ""), 400, "flavor.memory_mb", "flavor.memory_mb"));
        c.add(new Case("memory beyond 32 bits", "POST", p, spawnWith(flavor("1", "99999999999", "1"), okVifs, ""),
                400, "flavor.memory_mb", "flavor.memory_mb"));
        c.add(new Case("negative root disk", "POST", p, spawnWith(flavor("1", "128", "-1"), okVifs, ""), 400, "flavor.root_gb", "flavor.root_gb"));
        c.add(new Case("negative swap", "POST", p, spawnWith(
                "{\"name\": \"x\", \"vcpus\": 1, \"memory_mb\": 128, \"swap_mb\": -1}", okVifs, ""), 400, "flavor.swap_mb", "flavor.swap_mb"));
        c.add(new Case("more vcpus than the host may give", "POST", p, spawnWith(flavor("1024", "128", "1"), okVifs, ""),
                409, "vcpus", "vcpus"));
        c.add(new Case("more memory than the host may give", "POST", p, spawnWith(flavor("1", "16000000", "1"), okVifs, ""),
                409, "memory_mb", "memory_mb"));
        c.add(new Case("more disk than the host may give", "POST", p, spawnWith(flavor("1", "128", "65536"), okVifs, ""),
                409, "disk_gb", "disk_gb"));
        c.add(new Case("bad uuid", "POST", p, spawnWith(okFlavor, okVifs, "").replaceFirst("\"uuid\": \"[^\"]+\"",
                "\"uuid\": \"not-a-uuid\""), 400, "uuid", "uuid"));
        c.add(new Case("bad image id", "POST", p, body("\"docker\"", "\"../../etc/passwd\"", okFlavor, okVifs, ""),
                400, "image_id", "image_id"));
        c.add(new Case("unknown image", "POST", p, body("\"docker\"", "\"" + UUID.randomUUID() + "\"", okFlavor, okVifs, ""),
                404, "image_id", "image"));
        c.add(new Case("image the driver cannot spawn", "POST", p, body("\"kvm\"", "\"" + Guests.busybox() + "\"", okFlavor, okVifs, ""),
                400, "image_id", "image"));
        c.add(new Case("vifs not a list", "POST", p, spawnWith(okFlavor, "{\"port_id\": \"x\"}", ""), 400, "vifs", "vifs"));
        c.add(new Case("bad MAC", "POST", p, spawnWith(okFlavor, vif(port(), "zz:16:3e:22:00:03", ""), ""),
                400, "vifs[0].mac", "vifs[0].mac"));
        c.add(new Case("multicast MAC", "POST", p, spawnWith(okFlavor, vif(port(), "01:00:5e:22:00:04", ""), ""),
                400, "vifs[0].mac", "vifs[0].mac"));
        c.add(new Case("bad port id", "POST", p, spawnWith(okFlavor, vif("port-1", "fa:16:3e:22:00:05", ""), ""),
                400, "vifs[0].port_id", "vifs[0].port_id"));
        c.add(new Case("bad IP", "POST", p, spawnWith(okFlavor, vif(port(), "fa:16:3e:22:00:06", ", \"ips\": [\"198.18.22.300/24\"]"), ""),
                400, "vifs[0].ips[0]", "vifs[0].ips[0]"));
        c.add(new Case("MTU too big", "POST", p, spawnWith(okFlavor, vif(port(), "fa:16:3e:22:00:07", ", \"mtu\": 70000"), ""),
                400, "vifs[0].mtu", "vifs[0].mtu"));
        c.add(new Case("VLAN out of range", "POST", p, spawnWith(okFlavor, vif(port(), "fa:16:3e:22:00:08", ", \"vlan\": 5000"), ""),
                400, "vifs[0].vlan", "vifs[0].vlan"));
        String twice = port();
        c.add(new Case("the same port twice", "POST", p, spawnWith(okFlavor, "[{\"port_id\": \"" + twice
                + "\", \"mac\": \"fa:16:3e:22:00:09\"}, {\"port_id\": \"" + twice + "\", \"mac\": \"fa:16:3e:22:00:0a\"}]", ""),
                400, "vifs", "vifs"));
        c.add(new Case("property not a string", "POST", p, spawnWith(okFlavor, okVifs, ", \"properties\": {\"x\": 1}"),
                400, "properties.x", "properties.x"));
        c.add(new Case("power_on not a boolean", "POST", p, spawnWith(okFlavor, okVifs, ", \"power_on\": \"yes\""),
                400, "power_on", "power_on"));
        // what the guest learns at boot (issue 17): Nova's limits, checked before anything is created
        c.add(new Case("user_data not base64", "POST", p, spawnWith(okFlavor, okVifs, ", \"user_data\": \"#cloud-config!\""),
                400, "user_data", "base64"));
        c.add(new Case("user_data over 65535 bytes", "POST", p, spawnWith(okFlavor, okVifs, ", \"user_data\": \""
                + java.util.Base64.getEncoder().encodeToString(new byte[65536]) + "\""), 400, "user_data", "65535"));
        c.add(new Case("malformed public key", "POST", p, spawnWith(okFlavor, okVifs,
                ", \"public_keys\": {\"k1\": \"ssh-ed25519 AAAAnot-a-key me@host\"}"), 400, "public_keys.k1", "public_keys.k1"));
        c.add(new Case("public key of another type than it says", "POST", p, spawnWith(okFlavor, okVifs,
                ", \"public_keys\": {\"k1\": \"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOAi8DCad64FWUWjXvAzu5GNWRhC6u6RluroDikfPca1\"}"),
                400, "public_keys.k1", "ssh-rsa"));
        StringBuilder many = new StringBuilder(", \"metadata\": {");
        for (int i = 0; i < 129; i++) {
            many.append(i == 0 ? "" : ", ").append("\"k").append(i).append("\": \"v\"");
        }
        c.add(new Case("129 metadata keys", "POST", p, spawnWith(okFlavor, okVifs, many.append("}").toString()),
                400, "metadata", "128"));
        c.add(new Case("metadata value over 255 characters", "POST", p, spawnWith(okFlavor, okVifs,
                ", \"metadata\": {\"k\": \"" + "v".repeat(256) + "\"}"), 400, "metadata.k", "255"));
        c.add(new Case("metadata value not a string", "POST", p, spawnWith(okFlavor, okVifs, ", \"metadata\": {\"k\": 1}"),
                400, "metadata.k", "string"));
        c.add(new Case("hostname with '_'", "POST", p, spawnWith(okFlavor, okVifs, ", \"hostname\": \"web_1\""),
                400, "hostname", "RFC 1123"));
        c.add(new Case("hostname of 300 characters", "POST", p, spawnWith(okFlavor, okVifs,
                ", \"hostname\": \"" + "h".repeat(300) + "\""), 400, "hostname", "1-63"));
        c.add(new Case("metadata keys naming one environment variable of a container", "POST", p, spawnWith(okFlavor, okVifs,
                ", \"metadata\": {\"build-id\": \"1\", \"build.id\": \"2\"}"), 400, "metadata", "BERTH_META_BUILD_ID"));
        c.add(new Case("config_drive not a boolean", "POST", p, spawnWith(okFlavor, okVifs, ", \"config_drive\": \"yes\""),
                400, "config_drive", "config_drive"));
        c.add(new Case("existing uuid", "POST", p, spawnWith(okFlavor, okVifs, "").replaceFirst("\"uuid\": \"[^\"]+\"",
                "\"uuid\": \"" + existing + "\""), 409, "uuid", "exists"));
        c.add(new Case("trailing garbage after the JSON object", "POST", p, spawnWith(okFlavor, okVifs, "") + " {\"x\": 1}",
                400, "body", "body"));
        c.add(new Case("a field given twice", "POST", p, spawnWith(okFlavor, okVifs, ", \"name\": \"it-bad-2\""),
                400, "body", "name"));
        c.add(new Case("deeply nested JSON", "POST", p, "[".repeat(5000) + "]".repeat(5000), 400, "body", "body"));
        c.add(new Case("17 VIFs", "POST", p, spawnWith(okFlavor, seventeenVifs(), ""), 400, "vifs", "vifs"));
        c.add(new Case("bad gateway", "POST", p, spawnWith(okFlavor, vif(port(), "fa:16:3e:22:00:0b",
                ", \"ips\": [\"198.18.22.41/24\"], \"gateway\": \"198.18.22\""), ""), 400, "vifs[0].gateway", "vifs[0].gateway"));
        c.add(new Case("ips not a list", "POST", p, spawnWith(okFlavor, vif(port(), "fa:16:3e:22:00:0c",
                ", \"ips\": \"198.18.22.42/24\""), ""), 400, "vifs[0].ips", "vifs[0].ips"));
        c.add(new Case("bad bridge name", "POST", p, spawnWith(okFlavor, vif(port(), "fa:16:3e:22:00:0d",
                ", \"bridge\": \"br int;\""), ""), 400, "vifs[0].bridge", "vifs[0].bridge"));
        String taken = twin(existingPort);
        guests.ports.add(taken);
        c.add(new Case("port whose tap name another instance uses", "POST", p, spawnWith(okFlavor,
                vif(taken, "fa:16:3e:22:00:0e", ""), ""), 409, "vifs[0].port_id", "vifs[0].port_id"));
        String sibling = port();
        c.add(new Case("two VIFs with one tap name", "POST", p, spawnWith(okFlavor, "[{\"port_id\": \"" + sibling
                + "\", \"mac\": \"fa:16:3e:22:00:0f\"}, {\"port_id\": \"" + twin(sibling) + "\", \"mac\": \"fa:16:3e:22:00:10\"}]", ""),
                400, "vifs[1].port_id", "vifs[1].port_id"));
        c.add(new Case("attach a port whose tap name the instance's own VIF uses", "POST", p + "/" + existing + "/interfaces",
                "{\"port_id\": \"" + taken + "\", \"mac\": \"fa:16:3e:22:00:11\"}", 409, "vif.port_id", "vif.port_id"));
        c.add(new Case("console bytes not a number", "GET", p + "/" + existing + "/console?bytes=lots", null, 400, "bytes", "bytes"));
        c.add(new Case("image import: empty file name", "POST", "/v1/images", importBody("", sha0()), 400, "file", "file"));
        c.add(new Case("oversized body", "POST", p, "{\"name\": \"" + "x".repeat(2 * 1024 * 1024) + "\"}", 413, "body", "body"));
        c.add(new Case("bad instance uuid in the path", "GET", p + "/not-a-uuid", null, 400, "uuid", "UUID"));
        c.add(new Case("unknown instance", "GET", p + "/" + UUID.randomUUID(), null, 404, "uuid", "not found"));
        c.add(new Case("delete of an unknown instance", "DELETE", p + "/" + UUID.randomUUID(), null, 404, "uuid", "not found"));
        c.add(new Case("list filtered by an unknown driver", "GET", p + "?driver=xen", null, 400, "driver", "driver"));
        c.add(new Case("unknown action", "POST", p + "/" + existing + "/action", "{\"fly\": null}", 400, "fly", "fly"));
        c.add(new Case("two actions at once", "POST", p + "/" + existing + "/action", "{\"pause\": null, \"stop\": null}",
                400, "body", "action"));
        c.add(new Case("bad reboot type", "POST", p + "/" + existing + "/action", "{\"reboot\": {\"type\": \"WARM\"}}",
                400, "reboot.type", "reboot.type"));
        c.add(new Case("snapshot name with a slash", "POST", p + "/" + existing + "/action",
                "{\"snapshot\": {\"name\": \"../x\"}}", 400, "snapshot.name", "snapshot.name"));
        c.add(new Case("unpause of a running instance", "POST", p + "/" + existing + "/action", "{\"unpause\": null}",
                409, "power_state", "unpause"));
        c.add(new Case("action on an unknown instance", "POST", p + "/" + UUID.randomUUID() + "/action", "{\"pause\": null}",
                404, "uuid", "not found"));
        c.add(new Case("console of zero bytes", "GET", p + "/" + existing + "/console?bytes=0", null, 400, "bytes", "bytes"));
        c.add(new Case("interface with a bad MAC", "POST", p + "/" + existing + "/interfaces",
                "{\"port_id\": \"" + port() + "\", \"mac\": \"fa:16:3e:22\"}", 400, "vif.mac", "vif.mac"));
        c.add(new Case("detach of a bad port id", "DELETE", p + "/" + existing + "/interfaces/not-a-port", null,
                400, "port_id", "port_id"));
        String sha = sha0();
        c.add(new Case("image import: path traversal", "POST", "/v1/images", importBody("../../../../etc/passwd", sha),
                400, "file", "file"));
        c.add(new Case("image import: absolute path outside", "POST", "/v1/images", importBody("/etc/passwd", sha),
                400, "file", "file"));
        Files.createDirectories(importDir);
        Files.createSymbolicLink(importDir.resolve("it-escape"), Path.of("/etc/passwd"));
        c.add(new Case("image import: symlink out of the import dir", "POST", "/v1/images", importBody("it-escape", sha),
                400, "file", "file"));
        c.add(new Case("image import: wrong checksum", "POST", "/v1/images",
                importBody("berth-busybox.tar", "1".repeat(64)), 400, "sha256", "sha256"));
        c.add(new Case("image import: checksum not hex", "POST", "/v1/images", importBody("berth-busybox.tar", "xyz"),
                400, "sha256", "sha256"));
        c.add(new Case("image import: unknown disk format", "POST", "/v1/images",
                importBody("berth-busybox.tar", sha).replace("\"raw\"", "\"vhdx2\""), 400, "disk_format", "disk_format"));
        c.add(new Case("image import: unknown field", "POST", "/v1/images",
                importBody("berth-busybox.tar", sha).replace("\"name\"", "\"url\": \"http://x\", \"name\""), 400, "url", "url"));
        c.add(new Case("delete of a built (read-only) image", "DELETE", "/v1/images/" + Guests.busybox(), null,
                409, "id", "read-only"));
        return c;
    }

    private static String importBody(String file, String sha) {
        return """
                {"name": "it-bad-import", "disk_format": "raw", "container_format": "docker", "file": "%s", "sha256": "%s"}
                """.formatted(file, sha);
    }

    @Test
    @Timeout(900)
    void badRequestsAreRefusedAndCreateNothing() throws Exception {
        Guests.withAgent("BadRequestsTest", guests, (agent, g, t0) -> run(agent));
    }

    private void run(AgentProcess agent) throws Exception {
        for (String[] req : new String[][] {{"GET", "/v1/host"}, {"GET", "/v1/instances"}, {"GET", "/v1/images"},
                {"GET", "/metrics"}, {"GET", "/v1/events"}, {"POST", "/v1/instances"}}) {
            Reply none = agent.callWithToken(req[0], req[1], req[0].equals("POST") ? "{}" : null, null);
            assertEquals(401, none.status(), req[0] + " " + req[1] + " without a token: " + none.body());
            Reply wrong = agent.callWithToken(req[0], req[1], req[0].equals("POST") ? "{}" : null, "x" + agent.token());
            assertEquals(401, wrong.status(), req[0] + " " + req[1] + " with a wrong token: " + wrong.body());
        }
        assertEquals(200, agent.callWithToken("GET", "/healthz", null, null).status());

        // one real instance, for the requests that need one (409s, actions)
        UUID existing = UUID.randomUUID();
        Guests.spawn(agent, guests.containerBody(existing, Guests.busybox(), "198.18.22.40/24"));
        agent.awaitRunning(existing, Guests.SPAWN_LIMIT);
        Set<String> before = instanceIds(agent);

        List<Case> cases = cases(existing, Guests.portsOf(agent.instance(existing)).getFirst(),
                agent.stateDir.resolve("import"));
        assertTrue(cases.size() >= 30, "at least 30 bad requests, got " + cases.size());
        List<String> wrong = new ArrayList<>();
        Set<String> distinct = new TreeSet<>();
        for (Case c : cases) {
            Reply r = agent.call(c.method(), c.path(), c.body());
            JsonNode err = r.json() == null ? null : r.json().get("error");
            String field = err == null ? null : err.path("field").asText(null);
            String message = err == null ? "" : err.path("message").asText("");
            boolean ok = r.status() == c.status() && c.field().equals(field)
                    && message.toLowerCase().contains(c.mentions().toLowerCase());
            if (!ok) {
                wrong.add(c.what() + ": expected " + c.status() + " field " + c.field() + " mentioning '" + c.mentions()
                        + "', got " + r.status() + " " + (r.body().length() > 300 ? r.body().substring(0, 300) : r.body()));
            }
            distinct.add(c.method() + " " + c.path() + " " + (c.body() == null ? "" : c.body().hashCode()));
        }
        System.out.println("BadRequestsTest: " + cases.size() + " bad requests, " + wrong.size() + " answered wrong");
        assertTrue(wrong.isEmpty(), () -> String.join("\n", wrong));
        assertEquals(cases.size(), distinct.size(), "the bad requests are distinct");

        // nothing was created: the store lists the same instances, and the host has nothing of the bad requests
        assertEquals(before, instanceIds(agent), "instances in the store after the bad requests");
        JsonNode ex = agent.instance(existing);
        assertEquals("RUNNING", ex.get("power_state").asText(), "the real instance is untouched: " + ex);
        List<String> leaks = new ArrayList<>();
        for (String u : usedUuids) {
            UUID uuid = UUID.fromString(u);
            if (Host.containerExists(uuid)) {
                leaks.add("container " + Host.backendName(uuid));
            }
            if (Host.domainState(uuid).isPresent()) {
                leaks.add("domain " + Host.backendName(uuid));
            }
        }
        var badPorts = new ArrayList<>(guests.ports);
        // the real instance's port, and the port refused for sharing its tap name, have that one (legitimate) device
        List<String> realTaps = Guests.portsOf(ex).stream().map(Host::tapOf).toList();
        badPorts.removeIf(port -> realTaps.contains(Host.tapOf(port)));
        leaks.addAll(Host.leftovers(List.of(), badPorts, agent.instancesPath));
        Reply images = agent.call("GET", "/v1/images", null);
        images.json().get("images").forEach(i -> {
            if (i.get("agent_owned").asBoolean()) {
                leaks.add("image " + i.get("id").asText() + " (" + i.get("name").asText() + ")");
            }
        });
        try (var parts = Files.list(agent.stateDir.resolve("images"))) {
            parts.filter(f -> f.getFileName().toString().endsWith(".part")).forEach(f -> leaks.add("file " + f));
        }
        assertTrue(leaks.isEmpty(), () -> "bad requests left: " + leaks);
        agent.awaitInstance(existing, Duration.ofSeconds(5), "idle", n -> n.get("task_state").isNull());
    }

    private static Set<String> instanceIds(AgentProcess agent) throws Exception {
        Reply r = agent.call("GET", "/v1/instances", null);
        assertEquals(200, r.status(), r.body());
        Set<String> out = new TreeSet<>();
        r.json().get("instances").forEach(i -> out.add(i.get("uuid").asText()));
        return out;
    }
}
