package org.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class EventStreamTest {
    @Test
    void streamsTaskAndLifecycleEventsAsServerSentEvents() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\n")) {
            HttpResponse<Stream<String>> resp = t.openEvents();
            assertEquals(200, resp.statusCode());
            assertTrue(resp.headers().firstValue("content-type").orElseThrow().startsWith("text/event-stream"));
            UUID uuid = t.spawnAndWait("watched");
            Iterator<String> lines = resp.body().iterator();
            CompletableFuture<Boolean> sawEnd = CompletableFuture.supplyAsync(() -> {
                while (lines.hasNext()) {
                    String line = lines.next();
                    if (line.startsWith("data: ") && line.contains(uuid.toString()) && line.contains("spawn.end")) {
                        return true;
                    }
                }
                return false;
            });
            assertTrue(sawEnd.get(10, TimeUnit.SECONDS));
            resp.body().close();
            assertEquals(401, t.call("GET", "/v1/events", null, null).status());
        }
    }
}
