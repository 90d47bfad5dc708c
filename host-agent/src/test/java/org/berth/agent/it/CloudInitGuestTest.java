package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.UUID;
import org.berth.lab.TestImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 17 acceptance: one spawn request configures both kinds of guest. A real cloud-init guest (Debian 12 with
 * systemd, cloud-init and openssh-server, built by images/build.sh) reads Berth's config drive: cloud-init reports
 * the ConfigDrive datasource, runs the user data's {@code write_files} and {@code runcmd}, sets the hostname,
 * configures its NIC from {@code network_data.json}, installs the public key, and pings a container on the same
 * bridge. The container sees the same documents under {@code /run/berth/metadata}, its hostname and its metadata
 * as environment variables.
 */
class CloudInitGuestTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String C_IP = "198.18.23.20";
    private static final String VM_IP = "198.18.23.30";
    private static final String KEY =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOAi8DCad64FWUWjXvAzu5GNWRhC6u6RluroDikfPca1 it@berth";
    /** The guest reports what it found on its serial console, one marker per line. */
    private static final String CLOUD_CONFIG = """
            #cloud-config
            write_files:
              - path: /var/tmp/berth-it.txt
                content: "written-by-cloud-init"
              - path: /usr/local/sbin/berth-report
                permissions: "0755"
                content: |
                  #!/bin/sh
                  out=/dev/ttyS0
                  echo "BERTH-CI-RUNCMD host=$(hostname) file=$(cat /var/tmp/berth-it.txt)" > $out
                  echo "BERTH-CI-DS $(cloud-init query v1.platform) $(cloud-init query v1.subplatform)" > $out
                  echo "BERTH-CI-ADDR $(ip -4 -o addr show scope global | awk '{print $2, $4}' | tr '\\n' ' ')" > $out
                  for f in /root/.ssh/authorized_keys /home/*/.ssh/authorized_keys; do
                    [ -f "$f" ] && sed "s|^|BERTH-CI-KEY $f |" "$f" > $out
                  done
                  result=fail
                  for i in $(seq 1 60); do
                    if ping -c 1 -W 1 %s > /dev/null 2>&1; then result=ok; break; fi
                  done
                  echo "BERTH-CI-PING %s $result" > $out
            runcmd:
              - [/usr/local/sbin/berth-report]
            """.formatted(C_IP, C_IP);

    @Test
    @Timeout(900)
    void aCloudInitGuestAndAContainerConfigureThemselves() throws Exception {
        Guests.withAgent("CloudInitGuestTest", new Guests(), CloudInitGuestTest::run);
    }

    private static void run(AgentProcess agent, Guests guests, long t0) throws Exception {
        UUID c = UUID.randomUUID();
        guests.instances.add(c);
        String cBody = """
                {"driver": "docker", "uuid": "%s", "name": "it-meta-c", "image_id": "%s", "hostname": "ct-meta",
                 "flavor": {"name": "it.c", "vcpus": 1, "memory_mb": 128, "root_gb": 1}, "vifs": [%s],
                 "metadata": {"role": "web", "tier.level": "2"}, "public_keys": {"it": "%s"},
                 "user_data": "%s", "project_id": "it-project"}
                """.formatted(c, Guests.busybox(), guests.vif(C_IP + "/24", new String[1]), KEY,
                base64("#!/bin/sh\necho never run by Berth\n"));
        Guests.spawn(agent, cBody);
        agent.awaitRunning(c, Guests.SPAWN_LIMIT);
        Guests.step("container RUNNING", t0);
        checkContainer(c);
        Guests.step("container sees its metadata, hostname and environment", t0);

        JsonNode image = TestImages.manifest(TestImages.CLOUD_GUEST);
        long rootGb = Math.max(1, (image.path("virtual_size").asLong() + (1L << 30) - 1) >> 30);
        UUID vm = UUID.randomUUID();
        guests.instances.add(vm);
        String vmBody = """
                {"driver": "kvm", "uuid": "%s", "name": "it-cloud-guest", "image_id": "%s", "hostname": "ci-guest-1",
                 "flavor": {"name": "it.cloud", "vcpus": 1, "memory_mb": 512, "root_gb": %d}, "vifs": [%s],
                 "public_keys": {"it": "%s"}, "metadata": {"role": "db"}, "user_data": "%s"}
                """.formatted(vm, TestImages.id(TestImages.CLOUD_GUEST), rootGb,
                guests.vif(VM_IP + "/24", new String[1]), KEY, base64(CLOUD_CONFIG));
        long spawned = System.nanoTime();
        Guests.spawn(agent, vmBody);
        agent.awaitRunning(vm, Guests.SPAWN_LIMIT);
        Guests.step("cloud guest RUNNING", t0);
        String console = Guests.awaitConsole(agent, vm, "BERTH-CI-PING " + C_IP, Duration.ofSeconds(240));
        Guests.step(String.format("cloud-init ran the user data %.0f s after the spawn request",
                (System.nanoTime() - spawned) / 1e9), t0);
        assertTrue(console.contains("BERTH-CI-RUNCMD host=ci-guest-1 file=written-by-cloud-init"),
                "runcmd ran with the hostname set and write_files written: " + Checks.tail(console));
        assertTrue(console.contains("BERTH-CI-DS configdrive config-disk"),
                "cloud-init used the ConfigDrive datasource: " + Checks.tail(console));
        assertTrue(console.contains(" " + VM_IP + "/24"), "the NIC has the address from network_data.json: "
                + Checks.tail(console));
        assertTrue(console.lines().anyMatch(l -> l.contains("BERTH-CI-KEY /home/debian/") && l.endsWith(KEY)),
                "the public key is in the default user's authorized_keys: " + Checks.tail(console));
        assertTrue(console.contains("BERTH-CI-PING " + C_IP + " ok"), "the guest pinged the container: "
                + Checks.tail(console));
        // cloud-init's own final message (the image's final_message template) names the datasource it used
        String done = Guests.awaitConsole(agent, vm, "BERTH-CLOUD-FINAL datasource=DataSourceConfigDrive",
                Duration.ofSeconds(90));
        assertTrue(done.contains("[source=/dev/sr0]"), "cloud-init's final message: " + Checks.tail(done));
        Checks.awaitPing(c, VM_IP, Duration.ofSeconds(60));
        Guests.step("container -> cloud guest ping ok", t0);
    }

    /** The documents under /run/berth/metadata, the hostname and BERTH_META_* from inside the container. */
    private static void checkContainer(UUID c) throws Exception {
        String name = Host.backendName(c);
        String dir = "/run/berth/metadata/openstack/latest/";
        JsonNode meta = JSON.readTree(exec(name, "cat", dir + "meta_data.json"));
        assertEquals(c.toString(), meta.get("uuid").asText());
        assertEquals("ct-meta", meta.get("hostname").asText());
        assertEquals("web", meta.at("/meta/role").asText());
        assertEquals(KEY, meta.at("/public_keys/it").asText());
        assertEquals("it-project", meta.get("project_id").asText());
        JsonNode net = JSON.readTree(exec(name, "cat", dir + "network_data.json"));
        assertEquals(1, net.get("links").size(), "one link per VIF: " + net);
        assertEquals(C_IP, net.at("/networks/0/ip_address").asText());
        assertEquals("#!/bin/sh\necho never run by Berth\n", exec(name, "cat", dir + "user_data"));
        assertEquals("ct-meta", exec(name, "hostname").strip());
        String env = exec(name, "env");
        assertTrue(env.contains("BERTH_META_ROLE=web\n"), "metadata as environment: " + env);
        assertTrue(env.contains("BERTH_META_TIER_LEVEL=2\n"), "metadata as environment: " + env);
        var write = Host.run("docker", "exec", name, "sh", "-c", "echo x > " + dir + "meta_data.json");
        assertTrue(!write.ok(), "the documents are read-only inside the container");
    }

    private static String exec(String container, String... argv) {
        String[] args = new String[argv.length + 2];
        args[0] = "exec";
        args[1] = container;
        System.arraycopy(argv, 0, args, 2, argv.length);
        var r = Host.run("docker", args);
        assertTrue(r.ok(), () -> "docker exec " + String.join(" ", argv) + ": " + r.stderr());
        return r.stdout();
    }

    private static String base64(String text) {
        return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }
}
