package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.EventSink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An engine that accepts the connection and never answers: the call must end within call_timeout. */
class SilentEngineTest {
    @TempDir
    Path dir;

    @Test
    void aHungEngineTimesOutInsteadOfBlocking() throws Exception {
        try (var engine = new SilentEngine(dir)) {
            var ctx = new DriverContext(new DriverConfig("docker",
                    Map.of("host", engine.host(), "call_timeout", "1s")), new TestImageStore(dir),
                    Optional.empty(), EventSink.DISCARD, dir);
            long t0 = System.nanoTime();
            var e = assertThrows(DriverException.class, () -> new DockerDriverProvider().create(ctx));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(e instanceof DriverException.OperationTimedOut, e.toString());
            assertTrue(ms < 5000, "took " + ms + " ms");
        }
        assertTrue(!java.nio.file.Files.exists(dir.resolve("silent.sock")), "socket left");
    }
}
