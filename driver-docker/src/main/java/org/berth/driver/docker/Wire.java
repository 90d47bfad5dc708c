package org.berth.driver.docker;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One raw connection to the engine, non-blocking, whose every read and write waits at most until a deadline. Not a
 * docker-java transport: a hijacked exec stream needs a half-close (EOF to the command's stdin), which docker-java's
 * httpclient5 transport never sends (docker-java issue 1684), and a read that can time out, which its NIO unix
 * socket does not have. One thread may read while another writes (each direction has its own selector);
 * {@link #close()} from any thread wakes both.
 */
final class Wire implements AutoCloseable {
    private final SocketChannel channel;
    private final Selector readable;
    private final Selector writable;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Wire(SocketChannel channel, Selector readable, Selector writable) {
        this.channel = channel;
        this.readable = readable;
        this.writable = writable;
    }

    /** Whether {@link #open} can reach {@code host}: {@code unix://} or plain {@code tcp://}. */
    static boolean reaches(String host) {
        return host.startsWith("unix://") || host.startsWith("tcp://");
    }

    /** Connects to the engine at {@code host} ({@code unix:///path} or {@code tcp://host:port}) by {@code deadline}. */
    static Wire open(String host, long deadline) throws IOException {
        URI uri = URI.create(host);
        SocketAddress address = switch (uri.getScheme()) {
            case "unix" -> UnixDomainSocketAddress.of(uri.getPath());
            case "tcp" -> new InetSocketAddress(uri.getHost(), uri.getPort() < 0 ? 2375 : uri.getPort());
            default -> throw new IOException("engine host " + host + ": only unix:// and tcp:// are supported");
        };
        SocketChannel channel = SocketChannel.open(address instanceof UnixDomainSocketAddress
                ? java.net.StandardProtocolFamily.UNIX : java.net.StandardProtocolFamily.INET);
        Selector readable = null;
        Selector writable = null;
        try {
            channel.configureBlocking(false);
            readable = Selector.open();
            writable = Selector.open();
            channel.register(readable, SelectionKey.OP_READ);
            SelectionKey w = channel.register(writable, SelectionKey.OP_CONNECT);
            if (!channel.connect(address)) {
                while (!channel.finishConnect()) {
                    if (!await(writable, deadline)) {
                        throw new java.net.SocketTimeoutException("connecting to " + host + " timed out");
                    }
                }
            }
            w.interestOps(SelectionKey.OP_WRITE);
            return new Wire(channel, readable, writable);
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel, readable, writable);
            throw e;
        }
    }

    /**
     * Reads what is there into {@code dst}, waiting until {@code deadline} (a {@link System#nanoTime()}) for
     * something to come.
     *
     * @return bytes read, 0 when nothing came by the deadline or the wire was closed meanwhile, -1 at end of stream
     */
    int read(ByteBuffer dst, long deadline) throws IOException {
        while (!closed.get()) {
            int n = channel.read(dst);
            if (n != 0 || !dst.hasRemaining()) {
                return n;
            }
            if (!await(readable, deadline)) {
                return 0;
            }
        }
        return 0;
    }

    /** Writes all of {@code src} by {@code deadline}; false when the peer did not take it all in time. */
    boolean write(ByteBuffer src, long deadline) throws IOException {
        while (src.hasRemaining()) {
            if (closed.get()) {
                throw new java.nio.channels.ClosedChannelException();
            }
            if (channel.write(src) == 0 && !await(writable, deadline)) {
                return false;
            }
        }
        return true;
    }

    /** Half-close: the engine sees the end of the input and closes the command's stdin. */
    void shutdownOutput() throws IOException {
        channel.shutdownOutput();
    }

    boolean isClosed() {
        return closed.get();
    }

    /** Waits on {@code selector} until {@code deadline}; false on timeout or when the wire was closed. */
    private static boolean await(Selector selector, long deadline) throws IOException {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
            return false;
        }
        try {
            int ready = selector.select(left);
            selector.selectedKeys().clear();
            return ready > 0 || System.nanoTime() < deadline;
        } catch (ClosedSelectorException e) {
            return false;
        }
    }

    /** Closes the connection; a read or write blocked in another thread returns at once. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            readable.wakeup();
            writable.wakeup();
            closeQuietly(channel, readable, writable);
        }
    }

    private static void closeQuietly(AutoCloseable... all) {
        for (AutoCloseable c : all) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                // Closing a socket or selector: nothing the caller could do about a failure.
            }
        }
    }
}
