package org.berth.driver.docker;

import com.github.dockerjava.api.command.InspectExecResponse;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceStream;

/**
 * A running exec: its hijacked connection to the engine. No thread of its own: {@link #read} reads the socket in
 * the caller's thread, so when nobody reads, nothing is read from the engine and the command blocks on its full
 * stdout pipe (backpressure all the way); memory is one fixed buffer of {@link #BUFFER} bytes, which also holds the
 * part of a frame not read yet.
 */
final class ExecStream implements InstanceStream {
    /** Output buffered but not read by the caller, at most: the engine's frames are up to 32 KiB. */
    static final int BUFFER = 64 * 1024;
    /** ASCII EOT (^D): the end of input of a terminal in canonical mode. */
    private static final byte EOT = 4;
    /** How long the engine may take to record the exit code after the stream ended. */
    private static final Duration EXIT_CODE_WAIT = Duration.ofSeconds(2);
    /** How long the engine may take to record the pid of an exec it reports running. */
    private static final Duration PID_WAIT = Duration.ofSeconds(5);

    private final Engine engine;
    private final UUID uuid;
    private final String execId;
    private final long containerInit;
    private final boolean tty;
    private final Wire wire;
    private final ByteBuffer in;
    private final FrameDemux demux;
    private final Object readLock = new Object();
    private final Object writeLock = new Object();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Consumer<ExecStream> onClose;
    private volatile boolean ended;
    private volatile boolean inputClosed;
    private volatile Integer exitCode;

    /**
     * @param containerInit host pid of the container's init, to tell the exec's process from a reused pid
     * @param hijacked      the started exec's connection and the first stream bytes
     * @param onClose       run once, when the stream was closed
     */
    ExecStream(Engine engine, UUID uuid, String execId, long containerInit, boolean tty, ExecStart.Hijacked hijacked,
               Consumer<ExecStream> onClose) {
        this.engine = engine;
        this.uuid = uuid;
        this.execId = execId;
        this.containerInit = containerInit;
        this.tty = tty;
        this.wire = hijacked.wire();
        this.in = hijacked.buffer();
        this.demux = tty ? FrameDemux.raw() : FrameDemux.framed();
        this.onClose = onClose;
    }

    @Override
    public int read(byte[] buf, int off, int len, Duration timeout) {
        Objects.checkFromIndexSize(off, len, buf.length);
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        synchronized (readLock) {
            while (true) {
                if (closed.get()) {
                    return -1;
                }
                int n = demux.next(in, buf, off, len);
                if (n > 0 || len == 0) {
                    return n;
                }
                if (ended) {
                    return -1;
                }
                in.compact();
                int got;
                try {
                    got = wire.read(in, deadline);
                } catch (IOException e) {
                    got = -1; // reset by the engine or closed by close(): the stream is over either way
                } finally {
                    in.flip();
                }
                if (got < 0) {
                    ended = true;
                    if (!closed.get()) {
                        exitCode = exitCodeAfterEnd();
                    }
                } else if (got == 0 && System.nanoTime() - deadline >= 0) {
                    return closed.get() ? -1 : 0;
                }
            }
        }
    }

    @Override
    public void write(byte[] buf, int off, int len) {
        Objects.checkFromIndexSize(off, len, buf.length);
        synchronized (writeLock) {
            if (closed.get() || inputClosed) {
                throw new DriverException.BackendFailure(Engine.BACKEND, "exec write", closed.get()
                        ? "the stream is closed" : "the input was closed (closeInput)", null);
            }
            send(ByteBuffer.wrap(buf, off, len));
        }
    }

    private void send(ByteBuffer bytes) {
        try {
            if (!wire.write(bytes, System.nanoTime() + engine.callTimeout().toNanos())) {
                throw new DriverException.OperationTimedOut("docker exec write", engine.callTimeout(),
                        "the command does not read its input");
            }
        } catch (IOException e) {
            throw new DriverException.BackendFailure(Engine.BACKEND, "exec write", "the command ended: " + e, e);
        }
    }

    /**
     * Without a TTY the connection is half-closed: the engine closes the command's stdin. With a TTY a half-close
     * would make the engine end the output while the command keeps running, so the end of input is what a user
     * types: ^D, which a terminal in canonical mode turns into EOF for the reader (a raw-mode program just sees it).
     */
    @Override
    public void closeInput() {
        synchronized (writeLock) {
            if (inputClosed || closed.get()) {
                return;
            }
            inputClosed = true;
            if (tty) {
                send(ByteBuffer.wrap(new byte[] {EOT}));
                return;
            }
            try {
                wire.shutdownOutput();
            } catch (IOException e) {
                // The command ended and the engine closed the connection: its stdin is closed already.
            }
        }
    }

    /** Ignored without a TTY and once the command ended (the engine refuses to resize an ended exec). */
    @Override
    public void resize(int columns, int rows) {
        if (columns < 1 || columns > 1000 || rows < 1 || rows > 1000) {
            throw new IllegalArgumentException("resize: columns " + columns + " and rows " + rows
                    + " must be between 1 and 1000");
        }
        if (!tty || ended || closed.get()) {
            return;
        }
        try {
            sendSize(columns, rows);
        } catch (DriverException e) {
            // Refused before runc made the process (right after start) or after it ended: once the engine knows
            // the pid, the process exists and one more try must work; without one there is no terminal to size.
            if (running().isPresent()) {
                sendSize(columns, rows);
            }
        }
    }

    private void sendSize(int columns, int rows) {
        engine.run("exec resize", uuid, () -> engine.client().resizeExecCmd(execId).withSize(rows, columns).exec());
    }

    @Override
    public OptionalInt exitCode() {
        Integer code = exitCode;
        return code == null ? OptionalInt.empty() : OptionalInt.of(code);
    }

    /** Kills the command if it still runs, then drops the connection. Idempotent; a blocked read returns -1. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        wire.close(); // first, so a read blocked in another thread returns now
        try {
            if (!ended) {
                running().ifPresent(pid -> ExecKill.kill(pid, containerInit));
            }
        } catch (DriverException e) {
            // The engine cannot tell the pid (down, or the container went): nothing to kill we could find.
        } finally {
            onClose.accept(this);
        }
    }

    /**
     * The host pid of the exec's process while the engine reports it running. The engine marks an exec running
     * before its process exists and records the pid only once runc answered, which can be after the first output
     * came: a running exec without a pid is asked again, for at most {@link #PID_WAIT}.
     */
    private Optional<Long> running() {
        long deadline = System.nanoTime() + PID_WAIT.toNanos();
        while (true) {
            InspectExecResponse r = inspect();
            if (!Boolean.TRUE.equals(r.isRunning())) {
                return Optional.empty();
            }
            Long pid = r.getPidLong();
            if (pid != null && pid > 0) {
                return Optional.of(pid);
            }
            if (System.nanoTime() - deadline >= 0 || !pause(Duration.ofMillis(10))) {
                return Optional.empty();
            }
        }
    }

    /** Sleeps; false when interrupted (the interrupt is kept). */
    private static boolean pause(Duration d) {
        try {
            Thread.sleep(d);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private InspectExecResponse inspect() {
        return engine.call("exec inspect", uuid, () -> engine.client().inspectExecCmd(execId).exec());
    }

    /**
     * The engine ends the stream when the command exits and records the exit code around the same time: polled
     * for at most {@link #EXIT_CODE_WAIT}. Null when it cannot tell (the container was removed with the exec).
     */
    private Integer exitCodeAfterEnd() {
        long deadline = System.nanoTime() + EXIT_CODE_WAIT.toNanos();
        try {
            while (true) {
                InspectExecResponse r = inspect();
                if (!Boolean.TRUE.equals(r.isRunning()) && r.getExitCodeLong() != null) {
                    return r.getExitCodeLong().intValue();
                }
                if (System.nanoTime() - deadline >= 0 || closed.get() || !pause(Duration.ofMillis(20))) {
                    return null;
                }
            }
        } catch (DriverException e) {
            return null;
        }
    }
}
