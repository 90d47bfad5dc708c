package org.berth.agent.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.berth.agent.TestAgent;
import org.berth.agent.fake.EchoStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The agent's WebSocket sessions over the fake driver (an echo stream): authentication before the upgrade, tickets,
 * the one-console rule, limits, frame size, idle timeout, the exec protocol and the events recorded. The real
 * backends' streams are proven by their drivers' tests and the interactive acceptance test.
 */
class ConsoleApiTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static TestAgent agent;
    private static UUID running;

    @BeforeAll
    static void start() throws Exception {
        agent = new TestAgent("""
                drivers: {fake: {}}
                console:
                  max_sessions_per_instance: 3
                  max_frame_bytes: 4096
                  idle_timeout: 3s
                """);
        running = agent.spawnAndWait("console-test");
    }

    @AfterAll
    static void stop() throws Exception {
        if (agent != null) {
            agent.close();
        }
    }

    private Map<String, String> bearer() throws Exception {
        return Map.of("Authorization", "Bearer " + agent.token());
    }

    private String consolePath(UUID uuid) {
        return "/v1/instances/" + uuid + "/console";
    }

    @Test
    void aConsoleEchoesAndIsRecordedWithoutWhatWasTyped() throws Exception {
        WsProbe p = WsProbe.open(agent.agent.port(), consolePath(running), bearer());
        p.send("secret-typed-text\r");
        WsProbe.await("the echo", WAIT, () -> p.receivedText().contains("secret-typed-text"));
        p.ws.sendClose(1000, "done").get(10, TimeUnit.SECONDS);
        p.awaitClose(WAIT);
        WsProbe.await("the session's end recorded", WAIT, () -> events(running).contains("console.closed"));
        String events = events(running);
        assertTrue(events.contains("console.opened"), events);
        assertTrue(events.contains("127.0.0.1") && events.contains("with the token"), "who: " + events);
        assertTrue(events.matches("(?s).*console.closed.*\\d+\\.\\d s, 18 bytes in, 18 bytes out.*"), events);
        assertFalse(events.contains("secret-typed-text"), "nothing typed is recorded: " + events);
        EchoStream s = agent.fake().streams.getLast();
        WsProbe.await("the driver stream closed", WAIT, s::isClosed);
    }

    @Test
    void noTokenOrABadOneIs401BeforeTheUpgrade() throws Exception {
        var none = assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(), consolePath(running), Map.of()));
        assertEquals(401, none.status, none.body);
        var bad = assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(), consolePath(running),
                Map.of("Authorization", "Bearer nope")));
        assertEquals(401, bad.status);
        var ticket = assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(),
                consolePath(running) + "?ticket=made-up", Map.of()));
        assertEquals(401, ticket.status);
        assertTrue(ticket.body.contains("\"field\":\"ticket\""), ticket.body);
    }

    @Test
    void aTicketOpensOnceWithoutAHeader() throws Exception {
        TestAgent.Reply r = agent.call("POST", consolePath(running), null);
        assertEquals(201, r.status(), r.body());
        String url = r.json().at("/console/url").asText();
        assertTrue(url.startsWith(consolePath(running) + "?ticket="), url);
        WsProbe p = WsProbe.open(agent.agent.port(), url, Map.of());
        p.send("x");
        WsProbe.await("echo", WAIT, () -> p.receivedText().equals("x"));
        p.ws.sendClose(1000, "").get(10, TimeUnit.SECONDS);
        p.awaitClose(WAIT);
        var again = assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(), url, Map.of()));
        assertEquals(401, again.status, "a ticket is good for one session");
        // a ticket for another instance's console is refused (and spent)
        UUID other = agent.spawnAndWait("console-other");
        String otherUrl = agent.call("POST", consolePath(other), null).json().at("/console/url").asText();
        String stolen = consolePath(running) + otherUrl.substring(otherUrl.indexOf('?'));
        assertEquals(401, assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(), stolen, Map.of())).status);
        var spent = assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(), otherUrl, Map.of()));
        assertEquals(401, spent.status, "a ticket tried on another instance is spent for its own");
        agent.call("DELETE", "/v1/instances/" + other, null);
    }

    @Test
    void oneConsoleAtATimeASecondGets409() throws Exception {
        WsProbe first = WsProbe.open(agent.agent.port(), consolePath(running), bearer());
        var second = assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(), consolePath(running), bearer()));
        assertEquals(409, second.status);
        assertTrue(second.body.contains("in_use"), second.body);
        first.ws.sendClose(1000, "").get(10, TimeUnit.SECONDS);
        first.awaitClose(WAIT);
        WsProbe.await("the console free again", WAIT, () -> agent.agent.consoles().openSessions() == 0);
        WsProbe again = WsProbe.open(agent.agent.port(), consolePath(running), bearer());
        again.ws.sendClose(1000, "").get(10, TimeUnit.SECONDS);
        again.awaitClose(WAIT);
    }

    @Test
    void execRunsItsCommandAndEndsWithTheExitStatus() throws Exception {
        String url = execTicket(running, "{\"exec\": {\"command\": [\"cat\"], \"env\": {\"FAKE_EXIT\": \"3\"}}}");
        WsProbe p = WsProbe.open(agent.agent.port(), url, Map.of());
        p.send("hello ");
        p.send("exec");
        p.control("{\"type\":\"eof\"}");
        assertEquals(1000, p.awaitClose(WAIT), p.closeReason);
        assertEquals("hello exec", p.receivedText());
        assertEquals("{\"type\":\"exit\",\"code\":3}", p.texts.getLast());
        assertTrue(p.closeReason.contains("exited with 3"), p.closeReason);
        WsProbe.await("recorded", WAIT, () -> events(running).contains("exit 3"));
        assertTrue(events(running).contains("running cat (1 argument(s))"), events(running));
    }

    @Test
    void execNeedsItsTicketAndValidatesTheCommand() throws Exception {
        var noTicket = assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(),
                "/v1/instances/" + running + "/exec", bearer()));
        assertEquals(400, noTicket.status);
        assertBad("{\"exec\": {\"command\": []}}", "exec.command");
        assertBad("{\"exec\": {\"command\": [\"\"]}}", "exec.command[0]");
        assertBad("{\"exec\": {\"command\": \"sh\"}}", "exec.command");
        assertBad("{\"exec\": {\"command\": [\"sh\"], \"env\": {\"1BAD\": \"x\"}}}", "exec.env");
        assertBad("{\"exec\": {\"command\": [\"sh\"], \"working_dir\": \"relative\"}}", "exec.working_dir");
        assertBad("{\"exec\": {\"command\": [\"sh\"], \"tty\": true, \"columns\": 0}}", "exec.columns");
        assertBad("{\"exec\": {\"command\": [\"sh\"], \"shell\": true}}", "exec.shell");
        assertBad("{\"command\": [\"sh\"]}", "exec");
        StringBuilder many = new StringBuilder("{\"exec\": {\"command\": [\"sh\"");
        many.append(", \"x\"".repeat(300)).append("]}}");
        assertBad(many.toString(), "exec.command");
        assertEquals(404, agent.call("POST", "/v1/instances/" + UUID.randomUUID() + "/exec",
                "{\"exec\": {\"command\": [\"sh\"]}}").status());
    }

    @Test
    void aStoppedInstanceIs409NamingItsState() throws Exception {
        UUID stopped = agent.spawnAndWait("console-stopped");
        agent.call("POST", "/v1/instances/" + stopped + "/action", "{\"os-stop\": null}");
        agent.awaitInstance(stopped, i -> i.get("task_state").isNull() && i.get("power_state").asText().equals("SHUTDOWN"));
        var r = assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(), consolePath(stopped), bearer()));
        assertEquals(409, r.status);
        assertTrue(r.body.contains("SHUTDOWN"), r.body);
        agent.call("DELETE", "/v1/instances/" + stopped, null);
        assertEquals(0, agent.agent.consoles().openSessions());
    }

    @Test
    void anOversizedFrameClosesWith1009AndAnIdleSessionWith1001() throws Exception {
        WsProbe big = WsProbe.open(agent.agent.port(), consolePath(running), bearer());
        big.ws.sendBinary(ByteBuffer.wrap(new byte[8192]), true).get(10, TimeUnit.SECONDS);
        assertEquals(1009, big.awaitClose(WAIT), big.closeReason);
        WsProbe.await("freed", WAIT, () -> agent.agent.consoles().openSessions() == 0);

        WsProbe idle = WsProbe.open(agent.agent.port(), consolePath(running), bearer());
        long t0 = System.nanoTime();
        assertEquals(1001, idle.awaitClose(Duration.ofSeconds(15)), idle.closeReason);
        assertTrue(System.nanoTime() - t0 >= Duration.ofMillis(2500).toNanos(), "closed only after idle_timeout");
        assertTrue(idle.closeReason.contains("idle"), idle.closeReason);
    }

    @Test
    void sessionsPerInstanceAreLimitedAnd429NamesTheOption() throws Exception {
        java.util.List<WsProbe> open = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                open.add(WsProbe.open(agent.agent.port(), execTicket(running,
                        "{\"exec\": {\"command\": [\"cat\"]}}"), Map.of()));
            }
            var fourth = assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(),
                    execTicket(running, "{\"exec\": {\"command\": [\"cat\"]}}"), Map.of()));
            assertEquals(429, fourth.status);
            assertTrue(fourth.body.contains("console.max_sessions_per_instance"), fourth.body);
        } finally {
            for (WsProbe p : open) {
                p.ws.abort(); // dropped, not closed: the agent must notice and free the slots
            }
        }
        WsProbe.await("slots freed after the clients vanished", WAIT, () -> agent.agent.consoles().openSessions() == 0);
    }

    @Test
    void aResizeReachesTheStreamAndABadControlMessageCloses1007() throws Exception {
        WsProbe p = WsProbe.open(agent.agent.port(), execTicket(running,
                "{\"exec\": {\"command\": [\"sh\"], \"tty\": true}}"), Map.of());
        p.control("{\"type\":\"resize\",\"columns\":120,\"rows\":40}");
        EchoStream s = agent.fake().streams.getLast();
        WsProbe.await("resize", WAIT, () -> s.lastResize.equals("120x40"));
        p.control("{\"type\":\"launch\"}");
        assertEquals(1007, p.awaitClose(WAIT), p.closeReason);
    }

    @Test
    void aRotatedTokenEndsTheSessionsAndVoidsTheTickets() throws Exception {
        WsProbe open = WsProbe.open(agent.agent.port(), consolePath(running), bearer());
        String url = execTicket(running, "{\"exec\": {\"command\": [\"cat\"]}}");
        TestAgent.Reply r = agent.call("POST", "/v1/token/rotate", null);
        assertEquals(200, r.status(), r.body());
        assertEquals(1001, open.awaitClose(WAIT), open.closeReason);
        assertTrue(open.closeReason.contains("rotated"), open.closeReason);
        var ticket = assertThrows(WsProbe.Refused.class, () -> WsProbe.open(agent.agent.port(), url, Map.of()));
        assertEquals(401, ticket.status, "a ticket issued under the old token is void");
        WsProbe.await("freed", WAIT, () -> agent.agent.consoles().openSessions() == 0);
        WsProbe again = WsProbe.open(agent.agent.port(), consolePath(running), bearer()); // the new token works
        again.ws.sendClose(1000, "").get(10, TimeUnit.SECONDS);
        again.awaitClose(WAIT);
    }

    @Test
    void aMalformedUpgradeIs400BeforeAnythingOpens() throws Exception {
        int before = agent.fake().streams.size();
        try (java.net.Socket sock = new java.net.Socket("127.0.0.1", agent.agent.port())) {
            sock.setSoTimeout(10_000);
            sock.getOutputStream().write(("GET " + consolePath(running) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    + "Authorization: Bearer " + agent.token() + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            String status = new java.io.BufferedReader(new java.io.InputStreamReader(sock.getInputStream(),
                    java.nio.charset.StandardCharsets.US_ASCII)).readLine();
            assertEquals("HTTP/1.1 400 Bad Request", status, "no Sec-WebSocket-Key");
        }
        assertEquals(before, agent.fake().streams.size(), "no stream was opened for it");
    }

    @Test
    void aFragmentedMessageOverTheLimitCloses1009() throws Exception {
        WsProbe p = WsProbe.open(agent.agent.port(), consolePath(running), bearer());
        for (int i = 0; i < 3; i++) { // three frames of 2 KiB: each under max_frame_bytes, the message over it
            p.ws.sendBinary(ByteBuffer.wrap(new byte[2048]), i == 2).get(10, TimeUnit.SECONDS);
        }
        assertEquals(1009, p.awaitClose(WAIT), p.closeReason);
        WsProbe.await("freed", WAIT, () -> agent.agent.consoles().openSessions() == 0);
    }

    @Test
    void inputAfterTheCommandEndedIsDroppedAndTheStatusStillComes() throws Exception {
        WsProbe p = WsProbe.open(agent.agent.port(), execTicket(running,
                "{\"exec\": {\"command\": [\"head\"], \"env\": {\"FAKE_EXIT\": \"0\"}}}"), Map.of());
        p.send("first");
        p.control("{\"type\":\"eof\"}");
        for (int i = 0; i < 20; i++) { // the command no longer reads: these writes fail in the driver
            try {
                p.ws.sendBinary(ByteBuffer.wrap("late input".getBytes()), true).get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                // the session may already have ended (status sent, socket closed) before the late input: then the
                // client's own send fails, which is the point; the status must still have come
                assertTrue(e.getCause() instanceof java.io.IOException, () -> "late input: " + e);
                break;
            }
        }
        assertEquals(1000, p.awaitClose(WAIT), p.closeReason);
        assertEquals("{\"type\":\"exit\",\"code\":0}", p.texts.getLast());
    }

    private void assertBad(String body, String field) throws Exception {
        TestAgent.Reply r = agent.call("POST", "/v1/instances/" + running + "/exec", body);
        assertEquals(400, r.status(), body + " -> " + r.body());
        assertEquals(field, r.json().at("/error/field").asText(), r.body());
    }

    private String execTicket(UUID uuid, String body) throws Exception {
        TestAgent.Reply r = agent.call("POST", "/v1/instances/" + uuid + "/exec", body);
        assertEquals(201, r.status(), r.body());
        return r.json().at("/exec/url").asText();
    }

    private String events(UUID uuid) {
        try {
            JsonNode e = agent.call("GET", "/v1/instances/" + uuid + "/events", null).json();
            return e.toString();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
