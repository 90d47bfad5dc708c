package org.berth.agent.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
