package org.berth.driver.kvm;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where a console's reader thread puts what it received and the caller's {@code read} takes it: a ring of
 * {@link #CAPACITY} bytes, plus the pacing of the reader (how long it waits for room, how often it polls libvirt).
 *
 * <p>Backpressure is bounded in time, not only in this ring: libvirt's remote client keeps reading the connection's
 * socket (its event loop, or any other call on the connection) and queues stream data in this process however long
 * nobody receives it, so the guest is never slowed down (measured: 4 MB queued while the ring was full). The reader
 * therefore waits at most {@link #STALL} for room; after that it keeps receiving and the ring drops the oldest unread
 * bytes ({@link #dropped()}), as a UART overruns, until the caller catches up.
 */
final class ConsoleBuffer {
    static final int CAPACITY = 64 * 1024;
    /** The reader's receive size: it waits for this much room. */
    static final int CHUNK = 4096;
    /** How long output may wait in libvirt's queue while the ring is full, before the oldest bytes are dropped. */
    static final Duration STALL = Duration.ofSeconds(2);
    /** The reader's poll interval right after output or input; it doubles up to {@link #IDLE_POLL} while quiet. */
    static final Duration POLL = Duration.ofMillis(5);
    static final Duration IDLE_POLL = Duration.ofMillis(80);

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final byte[] ring = new byte[CAPACITY];
    private int head; // guarded by lock
    private int count; // guarded by lock
    private boolean ended; // guarded by lock: libvirt ended the stream (domain stopped) or it broke
    private boolean closed; // guarded by lock
    private boolean overrun; // guarded by lock: the caller fell behind longer than STALL; drop until it catches up
    private long dropped; // guarded by lock
    private int quietPolls; // guarded by lock: empty receives since the last output or input

    /** Reader: waits at most {@link #STALL} for room for a chunk (not at all while overrun); false once closed. */
    boolean awaitRoom() {
        lock.lock();
        try {
            if (CAPACITY - count >= CHUNK) {
                overrun = false;
            }
            long left = STALL.toNanos();
            while (!closed && !overrun && CAPACITY - count < CHUNK) {
                if (left <= 0) {
                    overrun = true;
                    break;
                }
                left = changed.awaitNanos(left);
            }
            return !closed;
        } catch (InterruptedException e) {
            return false; // nobody interrupts the reader but the JVM going down: end the stream
        } finally {
            lock.unlock();
        }
    }

    /** Reader: waits before the next receive of an empty stream, woken early by input or close; false once closed. */
    boolean awaitPoll() {
        lock.lock();
        try {
            if (!closed) {
                long wait = Math.min(IDLE_POLL.toNanos(), POLL.toNanos() << Math.min(quietPolls, 8));
                quietPolls++;
                changed.awaitNanos(wait);
            }
            return !closed;
        } catch (InterruptedException e) {
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** Reader: appends {@code n} bytes, dropping the oldest unread ones beyond {@link #CAPACITY}. */
    void append(byte[] chunk, int n) {
        lock.lock();
        try {
            int excess = count + n - CAPACITY;
            if (excess > 0) {
                head = (head + excess) % CAPACITY;
                count -= excess;
                dropped += excess;
            }
            int tail = (head + count) % CAPACITY;
            int first = Math.min(n, CAPACITY - tail);
            System.arraycopy(chunk, 0, ring, tail, first);
            System.arraycopy(chunk, first, ring, 0, n - first);
            count += n;
            quietPolls = 0;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Reader: the stream ended; {@link #read} returns -1 once the rest was read. */
    void end() {
        lock.lock();
        try {
            ended = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Closes: reads return -1 at once, the reader stops. False when it was closed already. */
    boolean close() {
        lock.lock();
        try {
            if (closed) {
                return false;
            }
            closed = true;
            changed.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Before a write: null when the stream is open (and the reader is told to poll at full speed: at least the echo
     * is coming), else why not.
     */
    String inputSent() {
        lock.lock();
        try {
            if (closed || ended) {
                return closed ? "is closed" : "has ended (the instance stopped)";
            }
            quietPolls = 0;
            changed.signalAll();
            return null;
        } finally {
            lock.unlock();
        }
    }

    /** {@link org.berth.driver.api.InstanceStream#read}'s contract on this ring. */
    int read(byte[] buf, int off, int len, Duration timeout) {
        Objects.checkFromIndexSize(off, len, buf.length);
        if (timeout == null || timeout.isNegative()) {
            throw new IllegalArgumentException("timeout: must be given and not negative");
        }
        lock.lock();
        try {
            long left = timeout.toNanos();
            while (count == 0 && !ended && !closed) {
                if (left <= 0) {
                    return 0;
                }
                left = changed.awaitNanos(left);
            }
            if (closed || count == 0) {
                return -1;
            }
            int n = Math.min(len, count);
            int first = Math.min(n, CAPACITY - head);
            System.arraycopy(ring, head, buf, off, first);
            System.arraycopy(ring, 0, buf, off + first, n - first);
            head = (head + n) % CAPACITY;
            count -= n;
            changed.signalAll(); // the reader may be waiting for room
            return n;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes received and not read yet: at most {@link #CAPACITY}. */
    int buffered() {
        lock.lock();
        try {
            return count;
        } finally {
            lock.unlock();
        }
    }

    /** Unread bytes dropped because the caller fell behind by more than {@link #CAPACITY} for over {@link #STALL}. */
    long dropped() {
        lock.lock();
        try {
            return dropped;
        } finally {
            lock.unlock();
        }
    }
}
