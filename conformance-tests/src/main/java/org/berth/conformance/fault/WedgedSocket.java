package org.berth.conformance.fault;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A wedged backend: a unix socket that accepts every connection and then never reads nor answers, as a hung
 * dockerd or libvirtd does. Closing it closes every connection it holds (which also frees a client stuck in a
 * call that cannot be interrupted) and removes the socket file.
 */
public final class WedgedSocket implements AutoCloseable {
    private final Path path;
    private final ServerSocketChannel server;
    private final List<SocketChannel> held = new CopyOnWriteArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();
    private final Thread acceptor;

    private WedgedSocket(Path path, ServerSocketChannel server) {
        this.path = path;
        this.server = server;
        this.acceptor = Thread.ofPlatform().daemon().name("berth-wedged-socket").start(this::acceptForever);
    }

    /** Listens on {@code path} (which must not exist). */
    public static WedgedSocket open(Path path) {
        try {
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(path));
            return new WedgedSocket(path, server);
        } catch (IOException e) {
            throw new UncheckedIOException("wedged socket: cannot listen on " + path, e);
        }
    }

    private void acceptForever() {
        while (server.isOpen()) {
            try {
                held.add(server.accept());
                accepted.incrementAndGet();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    public Path path() {
        return path;
    }

    /** How many connections clients opened so far. */
    public int accepted() {
        return accepted.get();
    }

    @Override
    public void close() {
        try {
            server.close();
            for (SocketChannel c : held) {
                c.close();
            }
            acceptor.join(5000);
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new UncheckedIOException("wedged socket: cannot close " + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
