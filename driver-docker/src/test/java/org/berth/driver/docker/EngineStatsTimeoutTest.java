package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The remote engine's one-shot path against an engine that accepts and never answers: the sample ends at the
 * call timeout, no request waits for a slot past it (so at most {@link EngineStats#PARALLEL} connections are ever
 * made), and the requests still going are cancelled: their connections are closed when the call returns.
 */
class EngineStatsTimeoutTest {
    @TempDir
    Path dir;

    @Test
    void aSilentEngineEndsTheSampleAtTheDeadlineAndItsRequestsAreCancelled() throws Exception {
        try (var silent = new SilentEngine(dir)) {
            List<SocketChannel> held = silent.held;
            var settings = DockerSettings.from(new DriverConfig("docker",
                    Map.of("host", silent.host(), "call_timeout", "1s")));
            List<InstanceInfo> listed = new ArrayList<>();
            Flavor flavor = new Flavor("m1.micro", 1, 64, 0, 0, 0);
            for (int i = 0; i < 3 * EngineStats.PARALLEL; i++) {
                UUID uuid = UUID.randomUUID();
                listed.add(new InstanceInfo(uuid, PowerState.RUNNING,
                        InstanceSpec.of(uuid, "s" + i, flavor, UUID.randomUUID().toString()), "c" + i));
            }
            try (Engine engine = new Engine(Engine.connect(settings, Duration.ofSeconds(5)), settings)) {
                long t0 = System.nanoTime();
                assertThrows(DriverException.OperationTimedOut.class, () -> new EngineStats(engine).sample(listed));
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(ms >= 900 && ms < 2500, "the sample ends at the 1 s call timeout: took " + ms + " ms");
            }
            Thread.sleep(300); // an acceptor still taking a connection made before the return
            assertTrue(held.size() <= EngineStats.PARALLEL,
                    held.size() + " connections: a request waited for a slot past the deadline");
            assertTrue(!held.isEmpty(), "the requests reached the engine");
            for (SocketChannel c : held) { // the client closed each: end of stream within 2 s (polled: bounded)
                c.configureBlocking(false);
                ByteBuffer b = ByteBuffer.allocate(4096);
                int n;
                long until = System.nanoTime() + Duration.ofSeconds(2).toNanos();
                while ((n = c.read(b.clear())) != -1 && System.nanoTime() < until) {
                    Thread.sleep(20);
                }
                assertTrue(n == -1, "a request's connection left open");
            }
        }
        assertTrue(!Files.exists(dir.resolve("silent.sock")), "socket left");
    }
}
