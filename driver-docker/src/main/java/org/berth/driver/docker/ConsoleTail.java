package org.berth.driver.docker;

import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Frame;
import java.io.IOException;
import java.util.Arrays;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.berth.driver.api.DriverException;

/**
 * A bounded tail of a container's log (stdout and stderr, as the engine interleaves them). The engine is asked
 * for at most {@code maxBytes} lines, since every line holds at least one byte, and only the last
 * {@code maxBytes} bytes are kept in a ring, so memory stays at {@code maxBytes} however long the lines are.
 */
final class ConsoleTail {
    static final int MAX_BYTES = 1 << 20;

    private final Engine engine;

    ConsoleTail(Engine engine) {
        this.engine = engine;
    }

    byte[] tail(UUID uuid, int maxBytes) {
        if (maxBytes < 1 || maxBytes > MAX_BYTES) {
            throw new IllegalArgumentException("maxBytes: " + maxBytes + " must be between 1 and " + MAX_BYTES);
        }
        var c = engine.require(uuid);
        var ring = new Ring(maxBytes);
        var callback = new ResultCallback.Adapter<Frame>() {
            @Override
            public void onNext(Frame frame) {
                ring.write(frame.getPayload());
            }
        };
        return engine.call("logs", uuid, () -> {
            engine.client().logContainerCmd(c.getId()).withStdOut(true).withStdErr(true).withTail(maxBytes)
                    .exec(callback);
            try (callback) {
                if (!callback.awaitCompletion(engine.callTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new DriverException.OperationTimedOut("docker logs " + c.getName(), engine.callTimeout(), "");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DriverException.OperationTimedOut("docker logs " + c.getName(), engine.callTimeout(),
                        "interrupted");
            } catch (IOException e) {
                // Closing a finished log stream: nothing left to read.
            }
            return ring.bytes();
        });
    }

    /** The last {@code capacity} bytes written. */
    static final class Ring {
        private final byte[] buf;
        private long written;

        Ring(int capacity) {
            buf = new byte[capacity];
        }

        synchronized void write(byte[] data) {
            if (data == null) {
                return;
            }
            int from = Math.max(0, data.length - buf.length);
            for (int i = from; i < data.length; i++) {
                buf[(int) (written++ % buf.length)] = data[i];
            }
        }

        synchronized byte[] bytes() {
            if (written <= buf.length) {
                return Arrays.copyOf(buf, (int) written);
            }
            int start = (int) (written % buf.length);
            byte[] out = new byte[buf.length];
            System.arraycopy(buf, start, out, 0, buf.length - start);
            System.arraycopy(buf, 0, out, buf.length - start, start);
            return out;
        }
    }
}
