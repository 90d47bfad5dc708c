package org.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
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
}
