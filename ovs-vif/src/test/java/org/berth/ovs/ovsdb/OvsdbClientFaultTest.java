package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client against a fake ovsdb-server that misbehaves: every fault ends in a clear error, in time, with no leak. */
class OvsdbClientFaultTest {
    private static final Duration TIMEOUT = Duration.ofMillis(500);
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private FakeOvsdbServer server;
    private OvsdbClient client;

    @AfterEach
    void tearDown() {
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private OvsdbClient connect(Function<JsonRpcMessage.Request, FakeOvsdbServer.Fault> behaviour, int maxFrame)
            throws InterruptedException {
        server = FakeOvsdbServer.tcp(behaviour);
        client = OvsdbClient.connect(OvsdbEndpoint.parse(server.endpoint()),
                OvsdbClient.Options.defaults().withCallTimeout(TIMEOUT).withMaxFrameBytes(maxFrame));
        return client;
    }

    /** Runs the call, asserting it fails with {@code kind} well within the call timeout plus a margin. */
    private static OvsdbException failsWith(OvsdbException.Kind kind, java.util.function.Supplier<?> call) {
        long start = System.nanoTime();
        OvsdbException e = assertThrows(OvsdbException.class, call::get);
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertEquals(kind, e.kind(), e.getMessage());
        assertTrue(ms < TIMEOUT.toMillis() + 1000, "failed after " + ms + " ms");
        return e;
    }

    private void assertNoPendingCalls() {
        assertEquals(0, client.pendingCalls(), "pending calls leaked");
    }

    private void assertReconnects() {
        long deadline = System.nanoTime() + Duration.ofSeconds(3).toNanos();
        JsonNode echoed = null;
        while (echoed == null && System.nanoTime() < deadline) {
            try {
                echoed = OvsdbClient.await(client.echo());
            } catch (OvsdbException e) {
                assertEquals(OvsdbException.Kind.DISCONNECTED, e.kind(), e.getMessage());
            }
        }
        assertEquals("[\"berth\"]", String.valueOf(echoed));
        assertTrue(server.connections.get() >= 2, "the client did not reconnect");
        assertNoPendingCalls();
    }

    @Test
    void slowReplyTimesOutWithinBound() throws Exception {
        connect(r -> r.method().equals("transact") ? new FakeOvsdbServer.Fault.Silent() : FakeOvsdbServer.healthy(r),
                1 << 20);
        long start = System.nanoTime();
        OvsdbException e = failsWith(OvsdbException.Kind.TIMEOUT,
                () -> OvsdbClient.await(client.transact("Open_vSwitch", List.of(Ops.comment("x")))));
        assertTrue((System.nanoTime() - start) / 1_000_000 >= TIMEOUT.toMillis() - 50, "timed out too early");
        assertTrue(e.getMessage().contains("did not answer transact within 500 ms"), e.getMessage());
        assertNoPendingCalls();
        // The connection stays usable: a slow answer is not a broken connection.
        assertEquals("[\"berth\"]", OvsdbClient.await(client.echo()).toString());
    }

    @Test
    void disconnectMidTransactionFailsPromptlyAndReconnects() throws Exception {
        AtomicInteger transacts = new AtomicInteger();
        connect(r -> r.method().equals("transact") && transacts.getAndIncrement() == 0
                ? new FakeOvsdbServer.Fault.Disconnect() : FakeOvsdbServer.healthy(r), 1 << 20);
        long start = System.nanoTime();
        OvsdbException e = failsWith(OvsdbException.Kind.DISCONNECTED,
                () -> OvsdbClient.await(client.transact("Open_vSwitch", List.of(Ops.comment("x")))));
        assertTrue((System.nanoTime() - start) / 1_000_000 < TIMEOUT.toMillis(), "did not fail before the timeout");
        assertTrue(e.getMessage().contains("connection to ovsdb-server closed"), e.getMessage());
        assertNoPendingCalls();
        assertReconnects();
        assertEquals(0, OvsdbClient.await(client.transact("Open_vSwitch", List.of(Ops.comment("y")))).size());
    }

    @Test
    void malformedJsonIsAProtocolError() throws Exception {
        connect(r -> r.method().equals("transact")
                ? new FakeOvsdbServer.Fault.Raw("{\"id\": " + r.id() + ", \"result\": [nonsense], \"error\": null}")
                : FakeOvsdbServer.healthy(r), 1 << 20);
        OvsdbException e = failsWith(OvsdbException.Kind.PROTOCOL,
                () -> OvsdbClient.await(client.transact("Open_vSwitch", List.of(Ops.comment("x")))));
        assertTrue(e.getMessage().contains("malformed JSON"), e.getMessage());
        assertNoPendingCalls();
        assertReconnects();
    }

    @Test
    void oversizedFrameIsAProtocolError() throws Exception {
        String big = "x".repeat(8192);
        connect(r -> r.method().equals("transact")
                ? new FakeOvsdbServer.Fault.Reply(F.arrayNode().add(big)) : FakeOvsdbServer.healthy(r), 4096);
        OvsdbException e = failsWith(OvsdbException.Kind.PROTOCOL,
                () -> OvsdbClient.await(client.transact("Open_vSwitch", List.of(Ops.comment("x")))));
        assertTrue(e.getMessage().contains("exceeds 4096"), e.getMessage());
        assertNoPendingCalls();
        assertReconnects();
    }

    @Test
    void errorResultNamesTheError() throws Exception {
        connect(r -> r.method().equals("transact") ? new FakeOvsdbServer.Fault.Error("unknown database")
                : FakeOvsdbServer.healthy(r), 1 << 20);
        OvsdbException e = failsWith(OvsdbException.Kind.ERROR,
                () -> OvsdbClient.await(client.transact("Nope", List.of(Ops.comment("x")))));
        assertEquals("ovsdb-server answered transact with error: unknown database", e.getMessage());
        assertNoPendingCalls();
        assertTrue(client.isConnected());
    }

    @Test
    void failedOperationInTransactionNamesIt() throws Exception {
        connect(r -> r.method().equals("transact")
                ? new FakeOvsdbServer.Fault.Reply(F.arrayNode().add(F.objectNode())
                .add(F.objectNode().put("error", "constraint violation").put("details", "duplicate name")))
                : FakeOvsdbServer.healthy(r), 1 << 20);
        var e = assertThrows(OvsdbClient.TransactionError.class, () -> OvsdbClient.await(client.transact(
                "Open_vSwitch", List.of(Ops.comment("a"), Ops.delete("Port", Ops.nameIs("p"))))));
        assertEquals(1, e.index());
        assertEquals("ovsdb transaction failed at operation 1 (delete on Port): constraint violation: duplicate name",
                e.getMessage());
        assertNoPendingCalls();
    }

    @Test
    void answersTheServersEchoKeepalive() throws Exception {
        connect(FakeOvsdbServer::healthy, 1 << 20);
        server.sendToClient("echo", F.arrayNode().add("ping-1"), 77);
        var answer = assertInstanceOf(JsonRpcMessage.Response.class, server.next());
        assertEquals(77, answer.id().asInt());
        assertEquals("[\"ping-1\"]", answer.result().toString());
        assertTrue(answer.error() == null || answer.error().isNull());
    }

    @Test
    void unreachableServerFailsFast() {
        long start = System.nanoTime();
        OvsdbException e = assertThrows(OvsdbException.class, () -> OvsdbClient.connect(
                OvsdbEndpoint.parse("tcp:127.0.0.1:1"), OvsdbClient.Options.defaults().withCallTimeout(TIMEOUT)));
        assertEquals(OvsdbException.Kind.DISCONNECTED, e.kind());
        assertTrue(e.getMessage().startsWith("cannot connect to ovsdb-server at tcp:127.0.0.1:1"), e.getMessage());
        assertTrue((System.nanoTime() - start) / 1_000_000 < TIMEOUT.toMillis() + 1000);
    }

    @Test
    void callsWhileTheServerIsGoneFailWithinTheirTimeout() throws Exception {
        connect(FakeOvsdbServer::healthy, 1 << 20);
        server.close();
        server = null;
        long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        while (client.isConnected() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(!client.isConnected(), "the client did not notice the server going away");
        failsWith(OvsdbException.Kind.DISCONNECTED, () -> OvsdbClient.await(client.echo()));
        assertNoPendingCalls();
    }

    @Test
    void unansweredKeepaliveEchoDropsTheConnectionAndReconnects() throws Exception {
        AtomicInteger echoes = new AtomicInteger();
        server = FakeOvsdbServer.tcp(r -> r.method().equals("echo") && echoes.getAndIncrement() == 0
                ? new FakeOvsdbServer.Fault.Silent() : FakeOvsdbServer.healthy(r));
        client = OvsdbClient.connect(OvsdbEndpoint.parse(server.endpoint()), OvsdbClient.Options.defaults()
                .withCallTimeout(Duration.ofMillis(200)).withIdleEcho(Duration.ofMillis(100)));
        long deadline = System.nanoTime() + Duration.ofSeconds(3).toNanos();
        while (server.connections.get() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(2, server.connections.get(), "a silent server was not dropped and reconnected");
        assertEquals("echo", ((JsonRpcMessage.Request) server.next()).method());
    }

    @Test
    void worksOverAUnixSocket(@TempDir Path dir) throws Exception {
        server = FakeOvsdbServer.unix(dir.resolve("db.sock"), FakeOvsdbServer::healthy);
        client = OvsdbClient.connect(OvsdbEndpoint.parse(server.endpoint()),
                OvsdbClient.Options.defaults().withCallTimeout(TIMEOUT));
        assertEquals("[\"berth\"]", OvsdbClient.await(client.echo()).toString());
        var request = assertInstanceOf(JsonRpcMessage.Request.class, server.next());
        assertEquals("echo", request.method());
        assertNoPendingCalls();
    }

    @Test
    void manyConcurrentCallsAreCorrelatedById() throws Exception {
        connect(FakeOvsdbServer::healthy, 1 << 20);
        var futures = new java.util.ArrayList<java.util.concurrent.CompletableFuture<JsonNode>>();
        for (int i = 0; i < 200; i++) {
            futures.add(client.call("echo", F.arrayNode().add(i), TIMEOUT.multipliedBy(4)));
        }
        for (int i = 0; i < 200; i++) {
            assertEquals(i, OvsdbClient.await(futures.get(i)).get(0).asInt());
        }
        assertNoPendingCalls();
    }
}
