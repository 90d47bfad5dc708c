package org.berth.driver.kvm;

import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStream;
import org.berth.driver.api.PowerState;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.jna.ConnectionPointer;
import org.libvirt.jna.DomainPointer;
import org.libvirt.jna.SizeT;
import org.libvirt.jna.StreamPointer;

/**
 * A RUNNING domain's serial console (virDomainOpenConsole) as an {@link InstanceStream}. The libvirt stream is
 * blocking: one reader thread receives into a bounded buffer and stops receiving while it is full, so a slow caller
 * holds at most {@link #CAPACITY} bytes and libvirt keeps the rest; {@link #read} only waits on that buffer. Sends,
 * and the abort that wakes the reader on {@link #close()}, run on the session's pool within its call timeout.
 */
final class ConsoleStream implements InstanceStream {
    static final int CAPACITY = 64 * 1024;
    /** Reader threads are named this plus the instance's uuid. */
    static final String THREAD_PREFIX = "berth-kvm-console-";
    private static final int CHUNK = 4096;
    private static final String OPEN = "open console";

    private final UUID uuid;
    private final LibvirtSession session;
    private final Set<ConsoleStream> registry;
    private final Thread reader;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final byte[] ring = new byte[CAPACITY];
    private int head; // guarded by lock
    private int count; // guarded by lock
    private boolean ended; // guarded by lock: libvirt ended the stream (domain stopped) or it broke
    private boolean closed; // guarded by lock

    /** Orders send, abort and free: the native stream is aborted at most once and freed exactly once, last. */
    private final Object backend = new Object();
    private StreamPointer stream; // guarded by backend; null once freed
    private boolean aborted; // guarded by backend

    private ConsoleStream(UUID uuid, LibvirtSession session, StreamPointer stream, Set<ConsoleStream> registry) {
        this.uuid = uuid;
        this.session = session;
        this.stream = stream;
        this.registry = registry;
        this.reader = new Thread(this::receive, THREAD_PREFIX + uuid);
        reader.setDaemon(true);
    }

    /**
     * Opens the console of the RUNNING domain of {@code uuid}; {@code registry} holds it until {@link #close()}.
     *
     * @throws DriverException.InvalidInstanceState when the domain is not RUNNING
     * @throws DriverException.BackendFailure       when another console session is open on it
     */
    static ConsoleStream open(LibvirtSession session, UUID uuid, Set<ConsoleStream> registry) {
        Handoff handoff = new Handoff();
        StreamPointer stream;
        try {
            stream = session.call(OPEN, uuid, c -> {
                PowerState state = PowerStates.of(Domains.lookup(c, uuid));
                if (state != PowerState.RUNNING) {
                    throw new DriverException.InvalidInstanceState(uuid, OPEN, state);
                }
                return handoff.offer(openNative(ConsoleNative.pointer(c), uuid));
            });
        } catch (RuntimeException e) {
            handoff.abandon(); // the call timed out: whatever it opens later is released, not leaked
            throw e;
        }
        ConsoleStream console = new ConsoleStream(uuid, session, stream, registry);
        registry.add(console);
        console.reader.start();
        return console;
    }

    private static StreamPointer openNative(ConnectionPointer conn, UUID uuid) {
        ConsoleNative.Api api = ConsoleNative.api();
        StreamPointer stream = api.virStreamNew(conn, 0); // blocking: receive waits in the reader thread
        if (stream == null) {
            throw failure(OPEN, ConsoleNative.lastError());
        }
        DomainPointer domain = api.virDomainLookupByName(conn, InstanceSpec.backendName(uuid));
        if (domain == null) {
            ConsoleNative.LastError error = ConsoleNative.lastError();
            api.virStreamFree(stream);
            throw error.code() == ErrorNumber.VIR_ERR_NO_DOMAIN ? new DriverException.InstanceNotFound(uuid)
                    : failure(OPEN, error);
        }
        try {
            // null: the first console (the serial port the guest's getty or shell listens on)
            if (api.virDomainOpenConsole(domain, null, stream, ConsoleNative.NO_FLAGS) < 0) {
                ConsoleNative.LastError error = ConsoleNative.lastError();
                api.virStreamFree(stream);
                throw openFailure(uuid, error);
            }
            return stream;
        } finally {
            api.virDomainFree(domain);
        }
    }

    private static DriverException openFailure(UUID uuid, ConsoleNative.LastError error) {
        if (error.code() == ErrorNumber.VIR_ERR_OPERATION_INVALID) {
            // stopped between our state check and the open
            return new DriverException.InvalidInstanceState(uuid, OPEN, PowerState.SHUTDOWN);
        }
        if (error.message() != null && error.message().contains("Active console session")) {
            return new DriverException.BackendFailure(LibvirtSession.BACKEND, OPEN, "another console session is "
                    + "open on instance " + uuid + " (one at a time; close it first): " + error, null);
        }
        return failure(OPEN, error);
    }

    private static DriverException failure(String operation, ConsoleNative.LastError error) {
        return new DriverException.BackendFailure(LibvirtSession.BACKEND, operation, error.toString(), null);
    }

    /** The reader thread: receives until libvirt ends the stream, it breaks, or it is closed; then frees it. */
    private void receive() {
        byte[] chunk = new byte[CHUNK];
        StreamPointer s;
        synchronized (backend) {
            s = stream;
        }
        try {
            while (awaitSpace()) {
                // 0: libvirt ended the stream (the domain stopped); < 0: it broke, or close() aborted it
                int n = ConsoleNative.api().virStreamRecv(s, chunk, new SizeT(CHUNK));
                if (n <= 0) {
                    break;
                }
                append(chunk, n);
            }
        } catch (RuntimeException | LinkageError e) {
            // a JNA failure ends the stream like a libvirt error does
        } finally {
            lock.lock();
            try {
                ended = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            release();
        }
    }

    /** Waits until the buffer has room for a chunk (backpressure); false once closed. */
    private boolean awaitSpace() {
        lock.lock();
        try {
            while (!closed && CAPACITY - count < CHUNK) {
                changed.awaitUninterruptibly();
            }
            return !closed;
        } finally {
            lock.unlock();
        }
    }

    private void append(byte[] chunk, int n) {
        lock.lock();
        try {
            int tail = (head + count) % CAPACITY;
            int first = Math.min(n, CAPACITY - tail);
            System.arraycopy(chunk, 0, ring, tail, first);
            System.arraycopy(chunk, first, ring, 0, n - first);
            count += n;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Aborts the stream unless already done (libvirt closes its side, the console is free again) and frees it. */
    private void release() {
        synchronized (backend) {
            if (stream == null) {
                return;
            }
            abortLocked();
            ConsoleNative.api().virStreamFree(stream);
            stream = null;
        }
    }

    private void abortLocked() {
        if (!aborted && stream != null) {
            aborted = true;
            ConsoleNative.api().virStreamAbort(stream); // fails harmlessly when libvirt already ended it
        }
    }

    @Override
    public int read(byte[] buf, int off, int len, Duration timeout) {
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
            if (len == 0) {
                return 0;
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

    @Override
    public void write(byte[] buf, int off, int len) {
        Objects.checkFromIndexSize(off, len, buf.length);
        lock.lock();
        try {
            if (closed || ended) {
                throw new DriverException.BackendFailure(LibvirtSession.BACKEND, "write console", "the console "
                        + "stream of instance " + uuid + (closed ? " is closed" : " has ended (the instance stopped)"),
                        null);
            }
        } finally {
            lock.unlock();
        }
        byte[] data = Arrays.copyOfRange(buf, off, off + len);
        session.bounded("write console", session.timeout(), () -> {
            synchronized (backend) {
                int sent = 0;
                while (sent < data.length) {
                    if (stream == null || aborted) {
                        throw new DriverException.BackendFailure(LibvirtSession.BACKEND, "write console",
                                "the console stream of instance " + uuid + " has ended", null);
                    }
                    byte[] rest = sent == 0 ? data : Arrays.copyOfRange(data, sent, data.length);
                    int n = ConsoleNative.api().virStreamSend(stream, rest, new SizeT(rest.length));
                    if (n < 0) {
                        throw failure("write console", ConsoleNative.lastError());
                    }
                    sent += n;
                }
            }
            return null;
        });
    }

    /** A serial line has no end of input: the guest would not see one. Ignored. */
    @Override
    public void closeInput() {
    }

    /** A serial line carries no window size (the guest's {@code stty} sets it). Ignored. */
    @Override
    public void resize(int columns, int rows) {
    }

    @Override
    public OptionalInt exitCode() {
        return OptionalInt.empty();
    }

    /**
     * Wakes the reader (a closed flag while it waits for room, an abort while it waits in libvirt), which then frees
     * the stream; waits for it within the call timeout. A wedged libvirtd leaves the reader to end with it.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        Duration limit = session.timeout();
        try {
            session.bounded("close console", limit, () -> {
                synchronized (backend) {
                    abortLocked();
                }
                return null;
            });
            reader.join(limit.toMillis());
        } catch (RuntimeException e) {
            // timed out or the driver is closing: the reader ends when libvirt returns
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            registry.remove(this);
        }
    }

    /** Passes the opened stream from the pool thread to the caller, or releases it if the caller gave up. */
    private static final class Handoff {
        private boolean abandoned; // guarded by this
        private StreamPointer opened; // guarded by this

        synchronized StreamPointer offer(StreamPointer stream) {
            if (abandoned) {
                ConsoleNative.api().virStreamAbort(stream);
                ConsoleNative.api().virStreamFree(stream);
                return null;
            }
            opened = stream;
            return stream;
        }

        synchronized void abandon() {
            abandoned = true;
            if (opened != null) {
                ConsoleNative.api().virStreamAbort(opened);
                ConsoleNative.api().virStreamFree(opened);
                opened = null;
            }
        }
    }
}
