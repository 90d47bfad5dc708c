package org.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** POST /v1/token/rotate on a plain loopback agent: the new token comes back (loopback is confidential). */
class TokenRotateTest {
    @Test
    void rotateOnLoopbackAnswersTheNewTokenAndRefusesTheOldOneAtOnce() throws Exception {
        try (TestAgent a = new TestAgent("drivers: {fake: {}}\n")) {
            String before = a.token();
            TestAgent.Reply r = a.call("POST", "/v1/token/rotate", null);
            assertEquals(200, r.status(), r.body());
            String after = r.json().path("token").asText();
            assertEquals(after, a.token());
            assertNotEquals(before, after);
            assertEquals(a.agent.tokenFile().toString(), r.json().path("token_file").asText());
            assertEquals("no-store", r.raw().headers().firstValue("cache-control").orElse(""));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(a.agent.tokenFile())));
            assertEquals(401, a.call("GET", "/v1/host", null, before).status());
            assertEquals(200, a.call("GET", "/v1/host", null).status());
            assertEquals(405, a.call("GET", "/v1/token/rotate", null).status());
            assertEquals(401, a.call("POST", "/v1/token/rotate", null, before).status());
            assertEquals(after, a.token(), "a refused rotate changes nothing");
        }
    }

    @Test
    void rotateEndsTheEventStreamsOpenedWithTheOldToken() throws Exception {
        try (TestAgent a = new TestAgent("drivers: {fake: {}}\n")) {
            HttpResponse<Stream<String>> resp = a.openEvents();
            assertEquals(200, resp.statusCode());
            Iterator<String> lines = resp.body().iterator();
            CompletableFuture<String> ended = CompletableFuture.supplyAsync(() -> {
                StringBuilder seen = new StringBuilder();
                while (lines.hasNext()) {
                    seen.append(lines.next()).append('\n');
                }
                return seen.toString();
            });
            Thread.sleep(300);
            org.junit.jupiter.api.Assertions.assertFalse(ended.isDone(), "the stream is open before the rotation");
            assertEquals(200, a.call("POST", "/v1/token/rotate", null).status());
            String seen = ended.get(5, TimeUnit.SECONDS);
            org.junit.jupiter.api.Assertions.assertTrue(seen.contains(": token rotated"), seen);
            // the new token works
            assertEquals(200, a.call("GET", "/v1/host", null).status());
        }
    }
}
