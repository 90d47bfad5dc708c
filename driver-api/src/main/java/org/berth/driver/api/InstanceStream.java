package org.berth.driver.api;

import java.time.Duration;
import java.util.OptionalInt;

/**
 * A bidirectional byte stream to an instance: its console ({@link ComputeDriver#openConsole}) or a command run in
 * it ({@link ComputeDriver#exec}). Bounded: the driver buffers at most a fixed amount of output the caller has not
 * read yet (it stops reading from the backend meanwhile), every call returns within its timeout or the driver's call
 * timeout, and {@link #close()} frees everything the stream holds in the backend.
 *
 * <p>Threading: one thread may read while another writes; {@link #close()} may be called from any thread and makes a
 * blocked {@link #read} return -1.
 */
public interface InstanceStream extends AutoCloseable {
    /**
     * Waits at most {@code timeout} for output and copies at most {@code len} bytes of it into {@code buf}.
     *
     * @return the number of bytes copied (at least 1); 0 when nothing came within {@code timeout}; -1 once the stream
     *         has ended (instance stopped or destroyed, command exited, stream closed) and every byte was read
     */
    int read(byte[] buf, int off, int len, Duration timeout);

    /**
     * Sends {@code len} bytes to the instance (console input, or the command's stdin).
     *
     * @throws DriverException.OperationTimedOut when the backend does not take them within the call timeout
     * @throws DriverException.BackendFailure    when the stream has ended or broke
     */
    void write(byte[] buf, int off, int len);

    /** Ends the input (EOF on the command's stdin); later writes fail. A console ignores it. */
    void closeInput();

    /** Tells the terminal its new size; ignored by a stream without a TTY. */
    void resize(int columns, int rows);

    /** The command's exit status once the stream has ended; empty for a console, or before the end. */
    OptionalInt exitCode();

    /** Ends the stream and frees its backend resources (an exec's process is killed). Idempotent. */
    @Override
    void close();
}
