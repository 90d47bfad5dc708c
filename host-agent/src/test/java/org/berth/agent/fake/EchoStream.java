package org.berth.agent.fake;

import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceStream;

/**
 * The fake driver's console and exec: what is written comes back (a bounded buffer: a writer blocks while it is full,
 * as a real backend's pipe does). An exec ends at the end of its input with {@code exitCode}; a console never ends by
 * itself. {@link #end()} ends it as a stopped instance would.
 */
public final class EchoStream implements InstanceStream {
    static final int CAPACITY = 256 * 1024;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final byte[] ring = new byte[CAPACITY];
    private final Integer exitCode;
    private int head;
    private int size;
    private boolean inputClosed;
    private boolean ended;
    private volatile boolean closed;
    public volatile String lastResize = "";

    /** @param exitCode the exec's status at the end of its input; null for a console */
    public EchoStream(Integer exitCode) {
        this.exitCode = exitCode;
    }

    @Override
    public int read(byte[] buf, int off, int len, Duration timeout) {
        lock.lock();
        try {
            long left = timeout.toNanos();
            while (size == 0 && !ended && !closed) {
                if (left <= 0) {
                    return 0;
                }
                left = changed.awaitNanos(left);
            }
            if (size == 0) {
                return -1;
            }
            int n = Math.min(len, size);
            for (int i = 0; i < n; i++) {
                buf[off + i] = ring[(head + i) % CAPACITY];
            }
            head = (head + n) % CAPACITY;
            size -= n;
            changed.signalAll();
            return n;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void write(byte[] buf, int off, int len) {
        lock.lock();
        try {
            for (int i = 0; i < len; i++) {
                long left = TimeUnit.SECONDS.toNanos(10);
                while (size == CAPACITY && !closed) {
                    if (left <= 0) {
                        throw new DriverException.OperationTimedOut("fake write", Duration.ofSeconds(10), "full");
                    }
                    left = changed.awaitNanos(left);
                }
                if (closed || ended || inputClosed) {
                    throw new DriverException.BackendFailure("fake", "write", "the stream has ended", null);
                }
                ring[(head + size) % CAPACITY] = buf[off + i];
                size++;
                changed.signalAll();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException.OperationTimedOut("fake write", Duration.ofSeconds(10), "interrupted");
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void closeInput() {
        lock.lock();
        try {
            inputClosed = true;
            if (exitCode != null) {
                ended = true;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void resize(int columns, int rows) {
        lastResize = columns + "x" + rows;
    }

    @Override
    public OptionalInt exitCode() {
        return ended && exitCode != null ? OptionalInt.of(exitCode) : OptionalInt.empty();
    }

    /** The instance stopped: the stream ends once its buffer is read. */
    public void end() {
        lock.lock();
        try {
            ended = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
