package org.berth.driver.docker;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A unix socket that accepts every connection and never reads or answers: a hung engine. */
final class SilentEngine implements AutoCloseable {
    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    /** The connections accepted, in order. */
    final List<SocketChannel> held = new CopyOnWriteArrayList<>();

    SilentEngine(Path dir) throws IOException {
        socket = dir.resolve("silent.sock");
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        acceptor = Thread.ofVirtual().start(() -> {
            try {
                while (true) {
                    held.add(server.accept()); // read nothing, answer nothing
                }
            } catch (IOException e) {
                // server closed
            }
        });
    }

    /** The {@code host} option that reaches it. */
    String host() {
        return "unix://" + socket;
    }

    @Override
    public void close() throws IOException {
        server.close();
        try {
            acceptor.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (SocketChannel c : held) {
            c.close();
        }
        Files.deleteIfExists(socket);
    }
}
