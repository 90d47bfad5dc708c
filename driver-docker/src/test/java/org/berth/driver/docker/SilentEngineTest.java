package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
        Path socket = dir.resolve("silent.sock");
        List<SocketChannel> held = new ArrayList<>();
        try (var server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread.ofVirtual().start(() -> {
                try {
                    while (true) {
                        held.add(server.accept()); // read nothing, answer nothing
                    }
                } catch (Exception e) {
                    // server closed
                }
            });
            var ctx = new DriverContext(new DriverConfig("docker",
                    Map.of("host", "unix://" + socket, "call_timeout", "1s")), new TestImageStore(dir),
                    Optional.empty(), EventSink.DISCARD, dir);
            long t0 = System.nanoTime();
            var e = assertThrows(DriverException.class, () -> new DockerDriverProvider().create(ctx));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(e instanceof DriverException.OperationTimedOut, e.toString());
            assertTrue(ms < 5000, "took " + ms + " ms");
        } finally {
            for (SocketChannel c : held) {
                c.close();
            }
            Files.deleteIfExists(socket);
        }
    }
}
