package org.berth.agent.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.berth.agent.cloud.CloudCli;
import org.berth.lab.Cmd;
import org.berth.lab.Lab;
import org.berth.lab.Lab.LabHost;
import org.berth.lab.TestImages;

/**
 * Issue 16's migration benchmark on the 3-host lab ({@code make bench}): the wall time of {@code berth cloud migrate}
 * (Placement move, migrate_out = stop + unplug + snapshot, the image streamed from the source's download into the
 * destination's upload, the destination's spawn until active with OVN's binding) of a VM and of a container,
 * back and forth between hosts 1 and 2, against {@code cp} of as many bytes as the migration image (the floor: the
 * disk has to be copied once). Prints medians and the ratio. Leaves nothing.
 */
public final class MigrateBench {
    private static final String NET = "198.18.222";
    private static final int MTU = 1442;
    private static final Duration CMD = Duration.ofSeconds(120);
    /** The lab tests' vif_plugging_timeout: the same everywhere, or Lab.shared restarts the agents. */
    private static final Duration VIF_PLUGGING_TIMEOUT = Duration.ofSeconds(12);

    private MigrateBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Lab lab = Lab.shared(3, VIF_PLUGGING_TIMEOUT);
        LabHost a = lab.host(0);
        LabHost b = lab.host(1);
        String sw = "berth-mvbench-" + UUID.randomUUID().toString().substring(0, 8);
        List<UUID> made = new ArrayList<>();
        try {
            lab.nbctl("ls-add", sw).orThrow();
            String vmPort = port(lab, sw, NET + ".11");
            String cPort = port(lab, sw, NET + ".12");
            UUID vm = spawn(a, made, """
                    {"driver": "kvm", "uuid": "%s", "name": "bench-vm", "image_id": "%s",
                     "flavor": {"name": "lab.vm", "vcpus": 1, "memory_mb": 256, "root_gb": 1},
                     "properties": {"os_command_line": "console=ttyS0"}, "vifs": [%s]}
                    """, TestImages.id(TestImages.GUEST_KERNEL), vif(lab, vmPort, null));
            UUID ct = spawn(a, made, """
                    {"driver": "docker", "uuid": "%s", "name": "bench-c", "image_id": "%s",
                     "flavor": {"name": "lab.c", "vcpus": 1, "memory_mb": 128, "root_gb": 1}, "vifs": [%s]}
                    """, TestImages.id(TestImages.BUSYBOX), vif(lab, cPort, NET + ".12/24"));
            awaitIdle(a, vm);
            awaitIdle(a, ct);
            Thread.sleep(1000); // the agents' reporter writes the allocations ~0.3 s after admission
            for (UUID uuid : List.of(vm, ct)) {
                String kind = uuid.equals(vm) ? "VM (kvm)" : "container (docker)";
                List<Double> migrate = new ArrayList<>();
                List<Double> copy = new ArrayList<>();
                List<Double> migrateOut = new ArrayList<>();
                List<Double> spawned = new ArrayList<>();
                List<Double> rest = new ArrayList<>();
                long bytes = 0;
                LabHost from = a;
                LabHost to = b;
                for (int i = 0; i < rounds; i++) {
                    JsonNode moved = cloud(lab, "migrate", uuid.toString(), "--host", to.name());
                    double out = between(from, uuid, "migrate_out.start", "migrate_out.end");
                    double spawn = between(to, uuid, "spawn.start", "spawn.end");
                    migrateOut.add(out);
                    spawned.add(spawn);
                    rest.add(moved.get("seconds").asDouble() - out - spawn);
                    cloud(lab, "confirm", uuid.toString());
                    bytes = moved.get("image_bytes").asLong();
                    migrate.add(moved.get("seconds").asDouble());
                    copy.add(cpSeconds(bytes));
                    LabHost t = from;
                    from = to;
                    to = t;
                }
                double m = median(migrate);
                double c = median(copy);
                System.out.printf("migrate %-18s %d rounds: median %.2f s (all %s); image %.1f MiB; cp of the same "
                                + "bytes %.3f s; migrate / cp = %.0fx%n", kind, rounds, m, migrate, bytes / 1048576.0,
                        c, m / c);
                System.out.printf("  of which: source migrate_out (stop, unplug, snapshot) %.2f s, destination spawn "
                        + "(until active and bound by OVN) %.2f s, the rest (Placement, image carried, polling) %.2f s%n",
                        median(migrateOut), median(spawned), median(rest));
            }
        } finally {
            for (UUID uuid : made) {
                for (LabHost h : lab.hosts()) {
                    h.call("DELETE", "/v1/instances/" + uuid, null);
                }
            }
            for (UUID uuid : made) {
                for (LabHost h : lab.hosts()) {
                    awaitGone(h, uuid);
                }
            }
            for (LabHost h : lab.hosts()) {
                for (JsonNode i : h.call("GET", "/v1/images", null).json().get("images")) {
                    if (i.get("name").asText().startsWith("migration-")) {
                        h.call("DELETE", "/v1/images/" + i.get("id").asText(), null);
                    }
                }
            }
            lab.nbctl("--if-exists", "ls-del", sw);
        }
    }

    /** Seconds of {@code cp} of a file of {@code bytes} random bytes (written first, outside the timing). */
    private static double cpSeconds(long bytes) throws IOException {
        Path dir = Files.createTempDirectory(Path.of("/var/tmp"), "berth-mvbench");
        Path src = dir.resolve("src");
        Path dst = dir.resolve("dst");
        try {
            byte[] chunk = new byte[1 << 20];
            try (OutputStream out = Files.newOutputStream(src)) {
                for (long left = bytes; left > 0; left -= chunk.length) {
                    ThreadLocalRandom.current().nextBytes(chunk);
                    out.write(chunk, 0, (int) Math.min(left, chunk.length));
                }
            }
            long t0 = System.nanoTime();
            Cmd.run(CMD, List.of("cp", src.toString(), dst.toString())).orThrow();
            return (System.nanoTime() - t0) / 1e9;
        } finally {
            Files.deleteIfExists(src);
            Files.deleteIfExists(dst);
            Files.deleteIfExists(dir);
        }
    }

    private static JsonNode cloud(Lab lab, String... args) {
        CloudCli.Run r = new CloudCli(lab.hostsFile()).json(args);
        if (r.code() != 0) {
            throw new IllegalStateException("berth cloud " + String.join(" ", args) + ": " + r);
        }
        return r.json();
    }

    /** Seconds between the instance's last event of kind {@code from} and its last of kind {@code to} on a host. */
    private static double between(LabHost h, UUID uuid, String from, String to) throws IOException, InterruptedException {
        java.time.Instant start = null;
        java.time.Instant end = null;
        for (JsonNode e : h.call("GET", "/v1/instances/" + uuid + "/events", null).json().get("events")) {
            java.time.Instant at = java.time.Instant.parse(e.get("at").asText());
            if (e.get("kind").asText().equals(from)) {
                start = at; // the last start: this migration's (an instance that came back has older ones)
            } else if (e.get("kind").asText().equals(to)) {
                end = at;
            }
        }
        if (start == null || end == null) {
            throw new IllegalStateException(h.name() + ": no " + from + "/" + to + " events of " + uuid);
        }
        return java.time.Duration.between(start, end).toNanos() / 1e9;
    }

    private static String port(Lab lab, String sw, String ip) {
        String port = UUID.randomUUID().toString();
        String mac = String.format("fa:16:3e:%02x:%02x:%02x", 0x80 + ThreadLocalRandom.current().nextInt(64),
                ThreadLocalRandom.current().nextInt(256), ThreadLocalRandom.current().nextInt(256));
        lab.nbctl("lsp-add", sw, port).orThrow();
        lab.nbctl("lsp-set-addresses", port, mac + " " + ip).orThrow();
        return port;
    }

    private static String vif(Lab lab, String port, String cidr) {
        String mac = lab.nbctl("--bare", "--columns=addresses", "list", "Logical_Switch_Port", port).orThrow().strip()
                .split("\\s+")[0].replace("\"", "");
        return "{\"port_id\": \"" + port + "\", \"mac\": \"" + mac + "\", \"bridge\": \"br-int\", \"mtu\": " + MTU
                + (cidr == null ? "" : ", \"ips\": [\"" + cidr + "\"]") + "}";
    }

    private static UUID spawn(LabHost h, List<UUID> made, String body, String image, String vif)
            throws IOException, InterruptedException {
        UUID uuid = UUID.randomUUID();
        made.add(uuid);
        LabHost.Reply r = h.call("POST", "/v1/instances", body.formatted(uuid, image, vif));
        if (r.status() != 202) {
            throw new IllegalStateException(h.name() + ": spawn answered " + r.status() + ": " + r.body());
        }
        return uuid;
    }

    private static void awaitIdle(LabHost h, UUID uuid) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(240).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode i = h.call("GET", "/v1/instances/" + uuid, null).json().path("instance");
            if (i.path("task_state").isNull()) {
                if (!"active".equals(i.path("vm_state").asText())) {
                    throw new IllegalStateException(h.name() + ": " + uuid + " is not active: " + i);
                }
                return;
            }
            Thread.sleep(250);
        }
        throw new IllegalStateException(h.name() + ": " + uuid + " did not finish spawning in 240 s");
    }

    private static void awaitGone(LabHost h, UUID uuid) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (h.call("GET", "/v1/instances/" + uuid, null).status() != 404 && System.nanoTime() < deadline) {
            Thread.sleep(250);
        }
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }
}
