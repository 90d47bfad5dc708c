package org.berth.agent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The failed-handshake WARN: at most 10 a minute per peer address, then one line with how many were dropped. */
class HandshakeLogLimitTest {
    @Test
    void tenAMinutePerAddressThenTheCountOfTheDroppedOnes() {
        HandshakeLog.Limit limit = HandshakeLog.newLimit();
        long t0 = 1_000_000_000L;
        for (int i = 0; i < 10; i++) {
            assertEquals(0, limit.admit("a", t0 + i));
        }
        for (int i = 0; i < 5; i++) {
            assertEquals(-1, limit.admit("a", t0 + 100 + i));
        }
        assertEquals(0, limit.admit("b", t0 + 200), "another address has its own count");
        long later = t0 + TimeUnit.SECONDS.toNanos(61);
        assertEquals(5, limit.admit("a", later), "the next window's first line says how many were dropped");
        assertEquals(0, limit.admit("a", later + 1));
    }

    @Test
    void keysAreBounded() {
        HandshakeLog.Limit limit = new HandshakeLog.Limit(1, 1000, 3);
        for (int i = 0; i < 100; i++) {
            assertEquals(0, limit.admit("k" + i, i * 10_000L));
        }
    }
}
