package org.berth.agent.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.PowerState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreTest {
    private static InstanceRecord record(UUID uuid, long mem, VmState state) {
        Instant now = Instant.now();
        return new InstanceRecord(uuid, "n", "fake", "{}", 2, mem, 3, state, PowerState.RUNNING, null, "b", null, now, now);
    }

    @Test
    void migratesOnceKeepsDataAndUsesWal(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("berth.db");
        UUID a = UUID.randomUUID();
        try (Store s = Store.open(file)) {
            assertEquals(Migrations.STEPS.size(), s.schemaVersion());
            s.insert(record(a, 512, VmState.ACTIVE));
            s.insert(record(UUID.randomUUID(), 1024, VmState.DELETED));
            s.addEvent(a, "req-1", "spawn.start", "x");
        }
        try (Store s = Store.open(file)) {
            assertEquals(Migrations.STEPS.size(), s.schemaVersion());
            assertEquals(512, s.find(a).orElseThrow().memoryMb());
            assertEquals(new Usage(2, 512, 3, 1), s.usage(), "deleted records claim nothing");
            assertEquals(1, s.list(Optional.of("fake")).size());
            assertEquals(2, s.listAll().size());
            assertEquals("req-1", s.events(a, 5).get(0).requestId());
            s.update(s.find(a).orElseThrow().withTask("rebooting"));
            assertEquals("rebooting", s.find(a).orElseThrow().taskState());
        }
        assertTrue(Files.exists(file));
    }

    @Test
    void everyInstanceWriteChangesTheVersionAndReadsDoNot(@TempDir Path dir) {
        UUID a = UUID.randomUUID();
        try (Store s = Store.open(dir.resolve("berth.db"))) {
            long v0 = s.instancesVersion();
            s.insert(record(a, 512, VmState.ACTIVE));
            long v1 = s.instancesVersion();
            assertNotEquals(v0, v1, "insert");
            s.list(Optional.empty());
            s.find(a);
            s.usage();
            s.addEvent(a, "req-1", "spawn.start", "x");
            assertEquals(v1, s.instancesVersion(), "reads and events leave the instances version alone");
            s.update(s.find(a).orElseThrow().withTask("rebooting"));
            long v2 = s.instancesVersion();
            assertNotEquals(v1, v2, "update");
            s.update(s.find(a).orElseThrow().withTask(null));
            long v3 = s.instancesVersion();
            assertNotEquals(v2, v3, "update");
            assertTrue(s.updateStateIfIdle(a, VmState.STOPPED, PowerState.SHUTDOWN));
            long v4 = s.instancesVersion();
            assertNotEquals(v3, v4, "updateStateIfIdle");
            s.delete(a);
            assertNotEquals(v4, s.instancesVersion(), "delete");
        }
    }
}
