package org.berth.driver.docker;

import java.nio.ByteBuffer;

/**
 * The payload bytes of the engine's multiplexed stream (an exec without a TTY): frames of an 8-byte header
 * ({@code [stream type, 0, 0, 0, size as 4 bytes big-endian]}) and {@code size} bytes of stdout or stderr, merged
 * here in the engine's order. Works on whatever part of the stream is in the buffer, so a frame is never held
 * whole: memory is the caller's buffer, however large the engine's frames are. With a TTY the engine sends raw
 * bytes: {@link #raw()} passes them through.
 */
final class FrameDemux {
    static final int HEADER = 8;

    private final boolean framed;
    private final byte[] header = new byte[HEADER];
    private int headerFilled;
    private long payloadLeft;

    private FrameDemux(boolean framed) {
        this.framed = framed;
    }

    static FrameDemux framed() {
        return new FrameDemux(true);
    }

    static FrameDemux raw() {
        return new FrameDemux(false);
    }

    /**
     * Copies payload bytes from {@code in} (in read mode) into {@code buf}, consuming headers on the way.
     *
     * @return bytes copied; 0 when {@code in} holds no payload yet (empty, or only part of a header)
     */
    int next(ByteBuffer in, byte[] buf, int off, int len) {
        if (!framed) {
            int n = Math.min(len, in.remaining());
            in.get(buf, off, n);
            return n;
        }
        while (in.hasRemaining()) {
            if (payloadLeft > 0) {
                int n = (int) Math.min(Math.min(len, payloadLeft), in.remaining());
                in.get(buf, off, n);
                payloadLeft -= n;
                return n;
            }
            int take = Math.min(HEADER - headerFilled, in.remaining());
            in.get(header, headerFilled, take);
            headerFilled += take;
            if (headerFilled == HEADER) {
                headerFilled = 0;
                payloadLeft = ((header[4] & 0xffL) << 24) | ((header[5] & 0xffL) << 16) | ((header[6] & 0xffL) << 8)
                        | (header[7] & 0xffL);
            }
        }
        return 0;
    }
}
