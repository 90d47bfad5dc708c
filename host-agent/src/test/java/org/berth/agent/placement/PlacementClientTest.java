package org.berth.agent.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The HTTP layer on a local server that answers what Placement should not: each answer is classified. */
class PlacementClientTest {
    private static final String TOKEN = "s3cret-token";
    private HttpServer server;
    private final AtomicReference<Answer> next = new AtomicReference<>();
    private final AtomicReference<Headers> lastHeaders = new AtomicReference<>();
    private PlacementClient client;

    /** What the server does: answer (status, type, body), sleep first, or reset (status 0); stall the body (-1). */
    private record Answer(int status, String type, String body, long sleepMs) {
    }

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/", this::handle);
        server.start();
        client = new PlacementClient(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/placement"),
                TOKEN, Duration.ofMillis(400));
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private void handle(HttpExchange x) throws IOException {
        lastHeaders.set(x.getRequestHeaders());
        x.getRequestBody().readAllBytes();
        Answer a = next.get();
        if (a.sleepMs() > 0) {
            try {
                Thread.sleep(a.sleepMs());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (a.status() == 0) {
            x.close();
            return;
        }
        if (a.status() == -1) { // headers and half a body, then nothing
            x.getResponseHeaders().set("Content-Type", "application/json");
            x.sendResponseHeaders(200, 100);
            OutputStream o = x.getResponseBody();
            o.write("{\"resource_providers\": [".getBytes(StandardCharsets.UTF_8));
            o.flush();
            try {
                Thread.sleep(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            x.close();
            return;
        }
        byte[] out = a.body().getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", a.type());
        x.sendResponseHeaders(a.status(), out.length == 0 ? -1 : out.length);
        if (out.length > 0) {
            try (OutputStream o = x.getResponseBody()) {
                o.write(out);
            }
        }
        x.close();
    }

    private void answer(int status, String type, String body) {
        next.set(new Answer(status, type, body, 0));
    }

    @Test
    void sendsPlacementsHeadersAndTheBodyOnlyWithContentType() {
        answer(200, "application/json", "{\"traits\": []}");
        assertEquals(200, client.get("/traits").status());
        Headers h = lastHeaders.get();
        assertEquals(TOKEN, h.getFirst("X-Auth-Token"));
        assertEquals("placement 1.39", h.getFirst("OpenStack-API-Version"));
        assertEquals("application/json", h.getFirst("Accept"));
        assertNull(h.getFirst("Content-Type"), "no body, no Content-Type");
        answer(204, "text/plain", "");
        assertEquals(204, client.put("/traits/CUSTOM_X", PlacementClient.JSON.createObjectNode()).status());
        assertEquals("application/json", lastHeaders.get().getFirst("Content-Type"));
        assertEquals(1, client.reads());
        assertEquals(1, client.writes());
    }

    @Test
    void anHtmlErrorPageIsABadAnswer() {
        answer(502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>");
        var e = assertThrows(PlacementException.BadAnswer.class, () -> client.get("/resource_providers"));
        assertEquals(502, e.status());
        assertTrue(e.getMessage().contains("GET /resource_providers") && e.getMessage().contains("text/html")
                && e.getMessage().contains("502 Bad Gateway"), e.getMessage());
        noToken(e);
    }

    @Test
    void htmlWith200AndBrokenJsonAndA5xxAreBadAnswers() {
        answer(200, "text/html", "<html>maintenance</html>");
        assertEquals(200, assertThrows(PlacementException.BadAnswer.class, () -> client.get("/x")).status());
        answer(200, "application/json", "{\"resource_providers\": [");
        assertTrue(assertThrows(PlacementException.BadAnswer.class, () -> client.get("/x")).getMessage()
                .contains("broken JSON"));
        answer(200, "application/json", "[1, 2]");
        assertThrows(PlacementException.BadAnswer.class, () -> client.get("/x"));
        answer(503, "application/json", "{\"errors\": [{\"status\": 503, \"title\": \"Service Unavailable\"}]}");
        assertEquals(503, assertThrows(PlacementException.BadAnswer.class, () -> client.get("/x")).status());
        answer(400, "application/json", "{\"message\": \"not Placement's error shape\"}");
        assertThrows(PlacementException.BadAnswer.class, () -> client.get("/x"));
    }

    @Test
    void placementsErrorsAreRefusalsWithTheirCode() {
        answer(409, "application/json", """
                {"errors": [{"status": 409, "title": "Conflict", "code": "placement.concurrent_update",
                 "detail": "resource provider generation conflict", "request_id": "req-1"}]}""");
        var e = assertThrows(PlacementException.Refused.class, () -> client.put("/x", PlacementClient.JSON.createObjectNode()));
        assertTrue(e.concurrentUpdate(), e.getMessage());
        assertEquals("placement.concurrent_update", e.code());
        answer(409, "application/json", "{\"errors\": [{\"status\": 409, \"title\": \"Conflict\", \"code\": "
                + "\"placement.duplicate_name\", \"detail\": \"name taken\"}]}");
        var d = assertThrows(PlacementException.Refused.class, () -> client.post("/x", PlacementClient.JSON.createObjectNode()));
        assertFalse(d.concurrentUpdate());
        assertEquals("placement.duplicate_name", d.code());
    }

    @Test
    void notFoundIsAnAnswerForTheCallerToJudge() {
        answer(404, "application/json", "{\"errors\": [{\"status\": 404, \"title\": \"Not Found\"}]}");
        assertEquals(404, client.get("/resource_providers/x/inventories").status());
    }

    @Test
    void aResetConnectionIsUnreachable() {
        next.set(new Answer(0, "", "", 0));
        noToken(assertThrows(PlacementException.Unreachable.class, () -> client.get("/x")));
    }

    @Test
    void noAnswerWithinTheTimeoutIsUnreachable() {
        next.set(new Answer(200, "application/json", "{}", 3000));
        long t0 = System.nanoTime();
        var e = assertThrows(PlacementException.Unreachable.class, () -> client.get("/x"));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(e.getMessage().contains("no answer within 400 ms"), e.getMessage());
        assertTrue(ms < 2000, "bounded by the timeout: " + ms + " ms");
    }

    @Test
    void aBodyThatStallsAfterTheHeadersIsUnreachableInBoundedTime() {
        next.set(new Answer(-1, "", "", 0));
        long t0 = System.nanoTime();
        var e = assertThrows(PlacementException.Unreachable.class, () -> client.get("/resource_providers"));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(e.getMessage().contains("no whole answer within 800 ms"), e.getMessage());
        assertTrue(ms < 3000, "bounded by twice the timeout, not by the server's 5 s stall: " + ms + " ms");
        noToken(e);
    }

    @Test
    void nothingListeningIsUnreachable() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        PlacementClient none = new PlacementClient(URI.create("http://127.0.0.1:" + port), TOKEN, Duration.ofSeconds(1));
        var e = assertThrows(PlacementException.Unreachable.class, () -> none.get("/"));
        assertInstanceOf(IOException.class, e.getCause());
        noToken(e);
    }

    private static void noToken(Exception e) {
        assertFalse(String.valueOf(e.getMessage()).contains(TOKEN), e.getMessage());
    }
}
