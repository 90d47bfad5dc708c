package org.berth.agent.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import org.berth.agent.LogCapture;
import org.berth.agent.TestAgent;
import org.berth.agent.fake.FakeDriver;
import org.berth.agent.store.InstanceRecord;
import org.berth.driver.api.DriverException;
import org.junit.jupiter.api.Test;

/** The sampler in a real agent with the fake driver: schedule, off, stale drivers, instances coming and going. */
class StatsSamplerTest {
    private static final Duration BOUND = Duration.ofSeconds(10);

    /** Polls until the condition holds, at most 10 s. */
    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + BOUND.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("not within " + BOUND.toSeconds() + " s: " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void samplesEveryIntervalOnItsOwnThreadsAndKeepsTheLastTwo() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 200ms\n")) {
            UUID a = t.spawnAndWait("a");
            StatsSampler s = t.agent.stats();
            await("two samples with the instance", () -> s.current().find(a).map(f -> f.previous() != null)
                    .orElse(false));
            StatsSnapshot.Found f = s.current().find(a).orElseThrow();
            assertEquals("a", f.last().name(), "joined with the store's record");
            assertEquals("fake", f.driver());
            assertTrue(f.series().last().at().isAfter(f.series().previous().at()));
            assertTrue(f.last().stats().cpuTimeNs() > f.previous().stats().cpuTimeNs());
            assertTrue(f.rates().orElseThrow().cpuPercent() > 0);
            int before = t.fake().statsThreads.size();
            Thread.sleep(1000);
            int calls = t.fake().statsThreads.size() - before;
            // 200 ms between the end of one sample and the start of the next: about 5 in a second
            assertTrue(calls >= 2 && calls <= 6, calls + " stats() calls in 1 s at a 200 ms interval");
            assertEquals(java.util.Set.of("berth-stats-call-fake"), java.util.Set.copyOf(t.fake().statsThreads),
                    "one call thread per driver, not a thread per call");
        }
    }

    @Test
    void offMeansNoCallUntilADiagnosticsRequestAsksForOne() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 0\n")) {
            UUID a = t.spawnAndWait("a");
            Thread.sleep(300);
            assertEquals(List.of(), t.fake().statsThreads, "no sampling");
            assertSame(StatsSnapshot.EMPTY, t.agent.stats().current());
            assertFalse(t.call("GET", "/metrics", null).body().contains("berth_instance_"), "no per-instance meter");
            TestAgent.Reply d = t.call("GET", "/v1/instances/" + a + "/diagnostics", null);
            assertEquals(200, d.status(), d.body());
            assertEquals(1, t.fake().statsThreads.size(), "one fresh call for the request");
            assertTrue(t.fake().statsThreads.getFirst().startsWith("berth-stats-call-"),
                    "bounded on the call pool, not run on the API thread: " + t.fake().statsThreads);
        }
    }

    @Test
    void aFailingDriverKeepsItsFiguresMarkedStaleAndIsLoggedOncePerOutage() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 1h\n"); LogCapture log = new LogCapture()) {
            UUID a = t.spawnAndWait("a");
            StatsSampler s = t.agent.stats();
            s.sampleNow(BOUND);
            DriverSeries good = s.current().drivers().get("fake");
            assertFalse(good.stale());
            t.fake().statsFailure = new DriverException.BackendUnavailable("fake backend", "gone", null);
            for (int i = 0; i < 3; i++) {
                s.sampleNow(BOUND);
            }
            DriverSeries stale = s.current().drivers().get("fake");
            assertTrue(stale.stale());
            assertSame(good.last(), stale.last(), "the previous figures are served");
            assertEquals(a, stale.last().instances().keySet().iterator().next());
            assertEquals(1, log.lines(Level.WARNING, "instance stats of driver fake").size(),
                    "one line per outage, not per tick: " + log.lines());
            assertTrue(t.call("GET", "/metrics", null).body().contains("berth_instance_stats_stale{driver=\"fake\"} 1"));
            t.fake().statsFailure = null;
            s.sampleNow(BOUND);
            assertFalse(s.current().drivers().get("fake").stale());
            assertSame(good.last(), s.current().drivers().get("fake").previous(), "rates span the outage");
            assertEquals(1, log.lines(Level.INFO, "instance stats of driver fake: answering again").size());
            t.fake().statsFailure = new IllegalStateException("again");
            s.sampleNow(BOUND);
            assertEquals(2, log.lines(Level.WARNING, "instance stats of driver fake").size(), "a new outage");
            t.fake().statsFailure = null;
        }
    }

    @Test
    void aDriverThatDoesNotAnswerInTimeIsStaleAndNotCalledTwiceAtOnce() throws Exception {
        // 200 ms interval: a call may take 1 s (the floor of the bound)
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 200ms\n")) {
            t.spawnAndWait("a");
            StatsSampler s = t.agent.stats();
            assertEquals(Duration.ofSeconds(1), s.callTimeout());
            await("a good sample", () -> s.current().drivers().containsKey("fake"));
            FakeDriver fake = t.fake();
            fake.statsDelayMs = 2500;
            await("stale after the call bound", () -> s.current().drivers().get("fake").stale());
            int calls = fake.statsThreads.size();
            Thread.sleep(1200);
            assertTrue(fake.statsThreads.size() - calls <= 1, "the hanging call is waited for, not called again "
                    + "each tick: " + (fake.statsThreads.size() - calls) + " more calls");
            fake.statsDelayMs = 0;
            await("fresh again", () -> !s.current().drivers().get("fake").stale());
        }
    }

    @Test
    void withSamplingOffConcurrentRequestsShareOneCallAndAHungOneIs503() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 0\n")) {
            UUID a = t.spawnAndWait("a");
            FakeDriver fake = t.fake();
            fake.statsDelayMs = 600;
            var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
            try {
                List<java.util.concurrent.Future<TestAgent.Reply>> replies = new java.util.ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    replies.add(pool.submit(() -> t.call("GET", "/v1/instances/" + a + "/diagnostics", null)));
                }
                for (var r : replies) {
                    TestAgent.Reply reply = r.get(BOUND.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
                    assertEquals(200, reply.status(), reply.body());
                }
            } finally {
                pool.shutdownNow();
            }
            assertEquals(1, fake.statsThreads.size(), "4 requests at once joined one call: " + fake.statsThreads);

            // a call that hangs past its bound: the request that waited is 504, the next ones 503 at once
            try (StatsSampler s = new StatsSampler(Duration.ZERO, Duration.ofMillis(400), t.agent.drivers(),
                    t.agent.store())) {
                InstanceRecord r = t.agent.store().find(a).orElseThrow();
                fake.statsDelayMs = 5000;
                int before = fake.statsThreads.size();
                long t0 = System.nanoTime();
                assertThrows(DriverException.OperationTimedOut.class, () -> s.fresh(r));
                long waited = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(waited >= 350 && waited < 2000, "bounded by the call timeout: " + waited + " ms");
                for (int i = 0; i < 3; i++) {
                    long t1 = System.nanoTime();
                    DriverException.BackendUnavailable e = assertThrows(DriverException.BackendUnavailable.class,
                            () -> s.fresh(r));
                    assertTrue(e.getMessage().contains("driver fake"), e.getMessage());
                    assertTrue((System.nanoTime() - t1) / 1_000_000 < 200, "at once, not after another wait");
                }
                assertEquals(before + 1, fake.statsThreads.size(), "the hung call is not started again");
                fake.statsDelayMs = 0;
            }
        }
    }

    @Test
    void aDriverStaleForThreeIntervalsHasItsInstanceSeriesDroppedFromMetrics() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 200ms\n")) {
            UUID a = t.spawnAndWait("a");
            StatsSampler s = t.agent.stats();
            await("a good sample", () -> s.current().find(a).isPresent());
            assertTrue(t.call("GET", "/metrics", null).body().contains("berth_instance_cpu_seconds_total{"));
            t.fake().statsFailure = new DriverException.BackendUnavailable("fake backend", "gone", null);
            await("stale", () -> s.current().drivers().get("fake").stale());
            DriverSeries stale = s.current().drivers().get("fake");
            long lastAt = stale.last().at().toEpochMilli();
            await("the per-instance series left out", () -> {
                try {
                    return !t.call("GET", "/metrics", null).body().contains("berth_instance_cpu_seconds_total{");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long droppedAfter = System.currentTimeMillis() - lastAt;
            assertTrue(droppedAfter >= 3 * 200, "not before 3 intervals: " + droppedAfter + " ms");
            String body = t.call("GET", "/metrics", null).body();
            assertFalse(body.contains("uuid=\"" + a + "\""), "no series of the instance at all");
            assertTrue(body.contains("berth_instance_stats_stale{driver=\"fake\"} 1"), body);
            assertTrue(body.contains("berth_instance_stats_last_sample_timestamp_seconds{driver=\"fake\"}"));
            assertTrue(body.contains("berth_instance_stats_sample_seconds{driver=\"fake\"}"));
            var list = t.call("GET", "/v1/instances/stats", null).json().at("/stats/instances");
            assertEquals(1, list.size(), "the stats list keeps showing it");
            assertTrue(list.get(0).get("stale").asBoolean(), "marked stale");
            t.fake().statsFailure = null;
            await("exported again once the driver answers", () -> {
                try {
                    return t.call("GET", "/metrics", null).body().contains("berth_instance_cpu_seconds_total{");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
        }
    }

    @Test
    void expiryIsThreeIntervalsAfterTheLastGoodFigures() {
        java.time.Instant at = java.time.Instant.parse("2026-12-08T00:00:00Z");
        DriverSample sample = new DriverSample("fake", at, Duration.ofMillis(5), java.util.Map.of());
        DriverSeries good = new DriverSeries(sample, null, false, Duration.ofMillis(5));
        Duration every = Duration.ofSeconds(10);
        assertFalse(good.expired(at.plusSeconds(3600), every), "fresh figures never expire");
        DriverSeries stale = good.failed(Duration.ofSeconds(10));
        assertFalse(stale.expired(at.plusSeconds(30), every), "3 intervals: still exported");
        assertTrue(stale.expired(at.plusSeconds(31), every), "past 3 intervals: left out");
    }

    @Test
    void instancesAppearAndVanishWithTheBackend() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 1h\n")) {
            StatsSampler s = t.agent.stats();
            UUID a = t.spawnAndWait("a");
            s.sampleNow(BOUND);
            assertTrue(s.current().find(a).isPresent());
            UUID b = t.spawnAndWait("b");
            assertTrue(s.current().find(b).isEmpty(), "newer than the last sample");
            s.sampleNow(BOUND);
            assertTrue(s.current().find(b).isPresent());
            assertNull(s.current().find(b).orElseThrow().previous(), "first seen: no rates yet");
            assertTrue(s.current().find(b).orElseThrow().rates().isEmpty());
            assertEquals(202, t.call("DELETE", "/v1/instances/" + a, null).status());
            await("deleted", () -> !t.fake().uuids().contains(a));
            s.sampleNow(BOUND);
            assertTrue(s.current().find(a).isEmpty(), "gone with its backend object");
            assertTrue(s.current().find(b).isPresent());
            assertNotNull(s.current().find(b).orElseThrow().previous());
        }
    }

    @Test
    void requestsNeverCallTheDriver() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 1h\n")) {
            UUID a = t.spawnAndWait("a");
            t.agent.stats().sampleNow(BOUND);
            t.agent.stats().sampleNow(BOUND);
            int stats = t.fake().statsThreads.size();
            int resources = t.fake().resourcesCalls.get();
            for (int i = 0; i < 20; i++) {
                assertEquals(200, t.call("GET", "/metrics", null).status());
                assertEquals(200, t.call("GET", "/v1/instances/stats", null).status());
                assertEquals(200, t.call("GET", "/v1/instances/" + a + "/diagnostics", null).status());
            }
            assertEquals(stats, t.fake().statsThreads.size(), "no stats() on a request path");
            assertEquals(resources, t.fake().resourcesCalls.get(), "/metrics serves capacity from the last refresh");
        }
    }

    @Test
    void noSamplerThreadSurvivesTheAgent() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\ninstance_stats_interval: 100ms\n")) {
            t.spawnAndWait("a");
            await("sampling", () -> t.fake().statsThreads.size() >= 2);
        }
        await("every berth-stats thread ended", () -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(th -> th.isAlive() && th.getName().startsWith("berth-stats")));
    }
}
