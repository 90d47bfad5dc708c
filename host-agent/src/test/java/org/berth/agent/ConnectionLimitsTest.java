package org.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** {@code idle_timeout} and {@code max_connections}: idle and slow connections are closed, the rest refused. */
class ConnectionLimitsTest {
    /** Millis until the agent closes {@code s} (read returns -1 or a reset), or -1 if still open after {@code max}. */
    static long millisUntilClosed(Socket s, int max) throws Exception {
        long t0 = System.nanoTime();
        s.setSoTimeout(max);
        InputStream in = s.getInputStream();
        try {
            while (in.read() >= 0) {
                // an answer, then the close
            }
        } catch (SocketTimeoutException e) {
            return -1;
        } catch (java.net.SocketException e) {
            // reset: closed too
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    @Test
    void aConnectionWithoutACompleteRequestIsClosedAfterIdleTimeoutButNotAnEventStream() throws Exception {
        try (TestAgent a = new TestAgent("drivers: {fake: {}}\nidle_timeout: 500ms\n")) {
            HttpResponse<Stream<String>> events = a.openEvents();
            Iterator<String> lines = events.body().iterator();
            try (Socket silent = new Socket("127.0.0.1", a.agent.port());
                 Socket slow = new Socket("127.0.0.1", a.agent.port());
                 Socket kept = new Socket("127.0.0.1", a.agent.port())) {
                slow.getOutputStream().write("GET /v1/host HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
                kept.getOutputStream().write(("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                long silentMs = millisUntilClosed(silent, 5000);
                assertTrue(silentMs >= 0 && silentMs < 3000, "silent connection closed after " + silentMs + " ms");
                long slowMs = millisUntilClosed(slow, 5000);
                assertTrue(slowMs >= 0, "a request that never completes is closed");
                // an answered keep-alive connection is closed once idle for the timeout after its answer
                assertTrue(millisUntilClosed(kept, 5000) >= 0);
            }
            // the event stream outlived the timeout: it still delivers
            java.util.UUID uuid = a.spawnAndWait("after-idle");
            CompletableFuture<Boolean> saw = CompletableFuture.supplyAsync(() -> {
                while (lines.hasNext()) {
                    if (lines.next().contains(uuid.toString())) {
                        return true;
                    }
                }
                return false;
            });
            assertTrue(saw.get(10, TimeUnit.SECONDS));
            events.body().close();
        }
    }

    @Test
    void connectionsBeyondMaxConnectionsAreClosedWithOneWarning() throws Exception {
        try (LogCapture log = new LogCapture();
             TestAgent a = new TestAgent("drivers: {fake: {}}\nmax_connections: 3\n")) {
            List<Socket> open = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    open.add(new Socket("127.0.0.1", a.agent.port()));
                }
                Thread.sleep(200); // accepted
                for (int i = 0; i < 3; i++) {
                    try (Socket extra = new Socket("127.0.0.1", a.agent.port())) {
                        assertTrue(millisUntilClosed(extra, 5000) >= 0, "a connection beyond the cap is closed");
                    }
                }
                assertEquals(-1, millisUntilClosed(open.getFirst(), 300), "the first ones stay open");
                assertEquals(1, log.lines(Level.WARNING, "max_connections (3) reached").size(), log.toString());
                open.removeFirst().close();
                Thread.sleep(200);
                assertEquals(200, a.call("GET", "/v1/host", null).status(), "room again once one closed");
            } finally {
                for (Socket s : open) {
                    s.close();
                }
            }
        }
    }
}
