package org.berth.agent.cloud;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.berth.agent.placement.PlacementApi;
import org.berth.agent.placement.PlacementClient;
import org.berth.agent.placement.PlacementServer;
import org.berth.agent.placement.Traits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code berth cloud spawn/hosts/list/delete} as a user runs them, against a real Placement (the JVM's shared one)
 * and a hosts file whose one host's agent does not answer (a loopback port nothing listens on): usage errors, the
 * unreachable agent in each command, and a spawn whose hand-off fails giving its claim back.
 */
class ScheduleCommandsTest {
    @TempDir
    Path dir;

    private PlacementApi api;
    private CloudPlacement placement;
    private CloudCli cli;
    private String host;
    private UUID provider;

    @BeforeEach
    void hostsFile() throws IOException {
        PlacementServer server = PlacementServer.shared();
        api = new PlacementApi(server.url);
        placement = new CloudPlacement(new PlacementClient(server.url, "admin", Duration.ofSeconds(20)));
        host = "cmd-" + UUID.randomUUID().toString().substring(0, 8);
        int silent;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            silent = s.getLocalPort(); // closed again: nothing listens there
        }
        Path token = Files.writeString(dir.resolve("token"), "t0ken");
        Path file = Files.writeString(dir.resolve("hosts.json"), """
                {"placement": {"url": "%s", "token": "admin"},
                 "hosts": [{"name": "%s", "api": "http://127.0.0.1:%d", "token_file": "%s"}]}
                """.formatted(server.url, host, silent, token));
        cli = new CloudCli(file);
    }

    @AfterEach
    void cleanUp() {
        if (provider != null) {
            api.deleteProvider(provider);
            assertEquals(null, api.provider(provider), "the test's provider is gone");
        }
    }

    /** Registers the host in Placement as its agent would: 1024 MB, 4 VCPU, the docker driver's trait. */
    private void register() {
        provider = UUID.randomUUID();
        assertEquals(200, api.send("POST", "/resource_providers", "{\"uuid\": \"" + provider + "\", \"name\": \""
                + host + "\"}").status());
        assertEquals(200, api.send("PUT", "/resource_providers/" + provider + "/inventories", "{\"resource_provider_"
                + "generation\": 0, \"inventories\": {\"VCPU\": {\"total\": 4}, \"MEMORY_MB\": {\"total\": 1024}}}")
                .status());
        api.send("PUT", "/traits/" + Traits.driverTrait("docker"), null);
        assertEquals(200, api.send("PUT", "/resource_providers/" + provider + "/traits", "{\"resource_provider_"
                + "generation\": 1, \"traits\": [\"" + Traits.driverTrait("docker") + "\"]}").status());
    }

    @Test
    void usageErrorsNameTheOption() {
        CloudCli.Run attempts = cli.json("spawn", "--driver", "docker", "--image", UUID.randomUUID().toString(),
                "--vcpus", "1", "--memory-mb", "64", "--name", "x", "--max-attempts", "0");
        assertEquals(2, attempts.code(), attempts.toString());
        assertTrue(attempts.err().contains("--max-attempts: 0 must be 1..100"), attempts.toString());
        CloudCli.Run driver = cli.json("spawn", "--image", UUID.randomUUID().toString(), "--vcpus", "1",
                "--memory-mb", "64");
        assertEquals(2, driver.code(), driver.toString());
        assertTrue(driver.err().contains("driver: is required"), driver.toString());
        CloudCli.Run memory = cli.json("spawn", "--driver", "docker", "--vcpus", "1");
        assertEquals(2, memory.code(), memory.toString());
        assertTrue(memory.err().contains("flavor.memory_mb: is required"), memory.toString());
        CloudCli.Run uuid = cli.json("delete", "not-a-uuid");
        assertEquals(2, uuid.code(), uuid.toString());
        assertTrue(uuid.err().contains("UUID: 'not-a-uuid' must be a UUID"), uuid.toString());
    }

    @Test
    void aHandOffToAnAgentThatDoesNotAnswerGivesTheClaimBack() {
        register();
        UUID uuid = UUID.randomUUID();
        CloudCli.Run r = cli.json("--timeout", "3s", "spawn", "--uuid", uuid.toString(), "--driver", "docker",
                "--image", UUID.randomUUID().toString(), "--name", "x", "--vcpus", "1", "--memory-mb", "64");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().startsWith("berth: no valid host: the spawn failed on 1 host(s) and no other host fits: "
                + host + ": cannot reach the agent"), r.toString());
        assertFalse(placement.consumer(uuid).exists(), "the claim is given back");
        assertEquals(new CloudPlacement.Usage(1024, 0), placement.usages(provider).get("MEMORY_MB"));
    }

    @Test
    void hostsListAndDeleteSayWhichAgentDidNotAnswer() {
        register();
        CloudCli.Run hosts = cli.json("hosts");
        assertEquals(0, hosts.code(), hosts.toString());
        JsonNode h = hosts.json().path("hosts").get(0);
        assertEquals(host, h.path("name").asText());
        assertFalse(h.path("reachable").asBoolean());
        assertTrue(h.path("instances").isNull());
        assertEquals(provider.toString(), h.path("provider_uuid").asText());
        assertEquals("enabled", h.path("status").asText());
        assertEquals(1024, h.at("/resources/MEMORY_MB/free").asLong());
        assertTrue(cli.text("hosts").out().contains(host + "  unreachable"), "the table says it");

        CloudCli.Run list = cli.json("list");
        assertEquals(3, list.code(), "no host answered: " + list);
        assertTrue(list.err().contains(host + " did not answer"), list.toString());
        assertEquals(host, list.json().path("unreachable").get(0).asText());

        UUID nowhere = UUID.randomUUID();
        CloudCli.Run delete = cli.json("delete", nowhere.toString());
        assertEquals(1, delete.code(), delete.toString());
        assertTrue(delete.err().contains("no host has instance " + nowhere + " and Placement has no allocation for "
                + "it (did not answer: " + host + ")"), delete.toString());

        UUID stale = UUID.randomUUID();
        assertTrue(placement.claim(stale, provider, java.util.Map.of("MEMORY_MB", 64L)));
        // a silent host holding a part (e.g. an evacuated instance's dead source) would start its stale copy when
        // back if the consumer were gone: refused unless --force
        CloudCli.Run refused = cli.json("delete", stale.toString());
        assertEquals(1, refused.code(), refused.toString());
        assertTrue(refused.err().contains("instance " + stale + " still holds a part on " + host + ", which does not "
                + "answer (its stale copy would come back); bring " + host + " back first, or --force"),
                refused.toString());
        assertEquals(java.util.Set.of(provider), placement.consumer(stale).allocations().keySet(), "nothing released");
        CloudCli.Run release = cli.json("delete", "--force", stale.toString());
        assertEquals(3, release.code(), "its host did not answer: " + release);
        assertFalse(placement.consumer(stale).exists(), "with --force its allocation is released all the same");
    }
}
