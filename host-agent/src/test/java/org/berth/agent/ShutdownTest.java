package org.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.UUID;
import org.berth.agent.config.ConfigException;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.VmState;
import org.junit.jupiter.api.Test;

class ShutdownTest {
    @Test
    void closeLetsARunningSpawnFinishAndTheRestartedAgentAgrees() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {options: {spawn_delay_ms: 400}}}\n")) {
            TestAgent.Reply r = t.call("POST", "/v1/instances", TestAgent.spawnBody("fake", "in-flight", 128));
            assertEquals(202, r.status());
            UUID uuid = UUID.fromString(r.json().at("/instance/uuid").asText());
            long t0 = System.nanoTime();
            t.restart(); // close() waits (up to shutdown_timeout) for the spawn task
            assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "bounded by shutdown_timeout");
            t.agent.reconciler().sweepNow(java.time.Duration.ofSeconds(10));
            InstanceRecord rec = t.agent.store().find(uuid).orElseThrow();
            assertEquals(VmState.ACTIVE, rec.vmState());
            assertNull(rec.taskState());
            assertTrue(t.fake().uuids().contains(uuid));
        }
    }

    @Test
    void aDriverNamedInTheConfigButNotOnTheClassPathIsAConfigError() throws Exception {
        ConfigException e = assertThrows(ConfigException.class, () -> new TestAgent("drivers: {hyperv: {}}\n"));
        assertEquals("drivers.hyperv", e.option());
    }

    @Test
    void mainRejectsUnknownArguments() {
        ConfigException e = assertThrows(ConfigException.class, () -> Main.parseArgs(new String[] {"--port", "1"}));
        assertEquals("arguments", e.option());
    }
}
