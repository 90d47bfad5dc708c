package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The engine's multiplexed stream, cut at every possible place: the payload comes out whole and in order. */
class FrameDemuxTest {
    private static byte[] frame(int type, String payload) {
        byte[] p = payload.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(FrameDemux.HEADER + p.length);
        b.put((byte) type).put(new byte[3]).putInt(p.length).put(p);
        return b.array();
    }

    private static byte[] concat(byte[]... parts) {
        var out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** Feeds {@code wire} in pieces of {@code piece} bytes, reading into a {@code len}-byte buffer. */
    private static String demux(FrameDemux d, byte[] wire, int piece, int len) {
        var out = new ByteArrayOutputStream();
        byte[] buf = new byte[len];
        for (int at = 0; at < wire.length; at += piece) {
            ByteBuffer in = ByteBuffer.wrap(wire, at, Math.min(piece, wire.length - at));
            for (int n; (n = d.next(in, buf, 0, len)) > 0; ) {
                out.write(buf, 0, n);
            }
            assertEquals(0, in.remaining(), "a 0 answer means the piece was used up");
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void stdoutAndStderrMergeInOrderWhereverTheStreamIsCut() {
        byte[] wire = concat(frame(1, "out one\n"), frame(2, "err\n"), frame(1, ""), frame(1, "out two\n"));
        for (int piece = 1; piece <= wire.length; piece++) {
            for (int len : new int[] {1, 3, 64}) {
                assertEquals("out one\nerr\nout two\n", demux(FrameDemux.framed(), wire, piece, len),
                        "pieces of " + piece + ", reads of " + len);
            }
        }
    }

    @Test
    void aFrameLargerThanTheBufferIsNeverHeldWhole() {
        String big = "x".repeat(100_000);
        assertEquals(big, demux(FrameDemux.framed(), frame(1, big), 4096, 1000));
    }

    @Test
    void aTerminalStreamIsPassedThrough() {
        byte[] raw = "\u0001\u0000raw bytes".getBytes(StandardCharsets.UTF_8);
        assertEquals(new String(raw, StandardCharsets.UTF_8), demux(FrameDemux.raw(), raw, 3, 2));
    }
}
