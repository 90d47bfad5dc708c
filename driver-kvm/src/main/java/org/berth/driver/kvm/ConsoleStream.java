package org.berth.driver.kvm;

import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;
import java.util.UUID;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStream;
import org.berth.driver.api.PowerState;
import org.libvirt.Connect;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.jna.ConnectionPointer;
import org.libvirt.jna.DomainPointer;
import org.libvirt.jna.SizeT;
import org.libvirt.jna.StreamPointer;

/**
 * A RUNNING domain's serial console (virDomainOpenConsole) as an {@link InstanceStream}. One reader thread receives
 * into a {@link ConsoleBuffer} (bounded, paced); {@link #read} only waits on that buffer; sends run on the session's
 * pool within its call timeout.
 *
 * <p>The libvirt stream is non-blocking and the reader polls it: libvirt's event loop (which the driver runs whenever
 * it declares CONSOLE) moves the data off the connection meanwhile. A blocking receive could not be woken reliably:
 * an abort from another thread sometimes left it waiting until libvirt's next keepalive (5 s), so the reader alone
 * touches the stream's receive side, and it aborts and frees the stream when it ends.
 */
final class ConsoleStream implements InstanceStream {
    /** Reader threads are named this plus the instance's uuid. */
    static final String THREAD_PREFIX = "berth-kvm-console-";
    private static final int WOULD_BLOCK = -2;
    private static final String OPEN = "open console";

    private final UUID uuid;
    private final LibvirtSession session;
    private final Set<ConsoleStream> registry;
    private final Thread reader;
    private final ConsoleBuffer buffer = new ConsoleBuffer();

    /** Orders sends and the final abort and free: no send reaches a freed stream. */
    private final Object backend = new Object();
    private StreamPointer stream; // guarded by backend; null once freed

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
                return handoff.offer(openNative(c, uuid));
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

    private static StreamPointer openNative(Connect c, UUID uuid) {
        ConsoleNative.Api api = ConsoleNative.api();
        ConnectionPointer conn = ConsoleNative.pointer(c);
        StreamPointer stream = api.virStreamNew(conn, ConsoleNative.VIR_STREAM_NONBLOCK);
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
                throw openFailure(c, uuid, error);
            }
            return stream;
        } finally {
            api.virDomainFree(domain);
        }
    }

    private static DriverException openFailure(Connect c, UUID uuid, ConsoleNative.LastError error) {
        if (error.code() == ErrorNumber.VIR_ERR_OPERATION_INVALID) {
            // stopped between our state check and the open
            return new DriverException.InvalidInstanceState(uuid, OPEN, LibvirtErrors.stateOf(c, uuid));
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
        byte[] chunk = new byte[ConsoleBuffer.CHUNK];
        StreamPointer s;
        synchronized (backend) {
            s = stream;
        }
        try {
            while (buffer.awaitRoom()) {
                int n = ConsoleNative.api().virStreamRecv(s, chunk, new SizeT(chunk.length));
                if (n > 0) {
                    buffer.append(chunk, n);
                } else if (n != WOULD_BLOCK || !buffer.awaitPoll()) {
                    break; // 0: libvirt ended the stream (the domain stopped); -1: it broke; or closed
                }
            }
        } catch (RuntimeException | LinkageError e) {
            // a JNA failure ends the stream like a libvirt error does
        } finally {
            buffer.end();
            release();
        }
    }

    /** Aborts the stream (libvirt closes its side: the console is free again) and frees it, once. */
    private void release() {
        synchronized (backend) {
            if (stream == null) {
                return;
            }
            ConsoleNative.api().virStreamAbort(stream); // fails harmlessly when libvirt already ended it
            ConsoleNative.api().virStreamFree(stream);
            stream = null;
        }
    }

    @Override
    public int read(byte[] buf, int off, int len, Duration timeout) {
        return buffer.read(buf, off, len, timeout);
    }

    int buffered() {
        return buffer.buffered();
    }

    long dropped() {
        return buffer.dropped();
    }

    @Override
    public void write(byte[] buf, int off, int len) {
        Objects.checkFromIndexSize(off, len, buf.length);
        String notOpen = buffer.inputSent();
        if (notOpen != null) {
            throw new DriverException.BackendFailure(LibvirtSession.BACKEND, "write console",
                    "the console stream of instance " + uuid + " " + notOpen, null);
        }
        byte[] data = Arrays.copyOfRange(buf, off, off + len);
        session.bounded("write console", session.timeout(), () -> {
            synchronized (backend) {
                int sent = 0;
                while (sent < data.length) {
                    if (stream == null) {
                        throw new DriverException.BackendFailure(LibvirtSession.BACKEND, "write console",
                                "the console stream of instance " + uuid + " has ended", null);
                    }
                    byte[] rest = sent == 0 ? data : Arrays.copyOfRange(data, sent, data.length);
                    int n = ConsoleNative.api().virStreamSend(stream, rest, new SizeT(rest.length));
                    if (n == WOULD_BLOCK) {
                        // the guest's line is full (an embedded fdstream); the call timeout interrupts the sleep
                        Thread.sleep(ConsoleBuffer.POLL.toMillis());
                    } else if (n < 0) {
                        throw failure("write console", ConsoleNative.lastError());
                    } else {
                        sent += n;
                    }
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
     * Wakes the reader, which aborts and frees the stream, and waits for it within the call timeout. A wedged
     * libvirtd leaves the reader to end with it.
     */
    @Override
    public void close() {
        if (!buffer.close()) {
            return;
        }
        try {
            reader.join(session.timeout().toMillis());
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
