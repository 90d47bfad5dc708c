package org.berth.agent.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** {@link TlsBench} reads handshakes per real second from openssl s_time, not per second of the client's CPU. */
class TlsBenchOutputTest {
    /** What {@code openssl s_time -connect 127.0.0.1:P -new -tls1_3 -time 2} printed with OpenSSL 3.0.19. */
    private static final String S_TIME = """
            Collecting connection statistics for 2 seconds
            *****************************************************

            921 connections in 0.88s; 1046.59 connections/user sec, bytes read 0
            921 connections in 3 real seconds, 0 bytes read per connection
            """;

    @Test
    void perRealSecondNotPerUserSecond() {
        assertEquals(307.0, TlsBench.perRealSecond(S_TIME), 0.001);
        assertThrows(IllegalStateException.class,
                () -> TlsBench.perRealSecond("921 connections in 0.88s; 1046.59 connections/user sec, bytes read 0"));
    }

    @Test
    void theMedianOfTheRounds() {
        assertEquals(2.0, TlsBench.median(java.util.List.of(9.0, 1.0, 2.0)));
        assertEquals(2.5, TlsBench.median(java.util.List.of(3.0, 1.0, 2.0, 9.0)));
    }
}
