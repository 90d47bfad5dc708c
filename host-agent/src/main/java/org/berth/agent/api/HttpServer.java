package org.berth.agent.api;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.berth.agent.tls.ServerTls;

/** The REST API's Netty HTTP/1.1 server, plain or behind TLS ({@link ServerTls} at the head of each connection). */
public final class HttpServer implements AutoCloseable {
    private final EventLoopGroup boss;
    private final EventLoopGroup io;
    private final Channel channel;

    private HttpServer(EventLoopGroup boss, EventLoopGroup io, Channel channel) {
        this.boss = boss;
        this.io = io;
        this.channel = channel;
    }

    /** @param tls null for plain HTTP; else every new connection starts with its current context */
    public static HttpServer start(String address, int port, int maxBody, Routes routes, TokenAuth auth,
                                   ExecutorService workers, EventStream events, ServerTls tls,
                                   Duration idleTimeout, int maxConnections,
                                   org.berth.agent.console.ConsoleService consoles) {
        ConnectionCap cap = new ConnectionCap(maxConnections);
        // epoll where Netty's native transport loads (Linux), the JDK's NIO otherwise.
        boolean epoll = Epoll.isAvailable();
        auth.onRotate(events::closeAll); // a stream opened with the old token ends with it
        auth.onRotate(() -> consoles.closeAll("the API token was rotated"));
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1,
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        EventLoopGroup io = new MultiThreadIoEventLoopGroup(2,
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        try {
            ServerBootstrap b = new ServerBootstrap().group(boss, io)
                    .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            if (!cap.admit(ch)) {
                                ch.close();
                                return;
                            }
                            if (tls != null) {
                                tls.addTo(ch.pipeline());
                            }
                            ch.pipeline().addLast(new HttpServerCodec(4096, 16 * 1024, 16 * 1024))
                                    .addLast(new IdleGuard(idleTimeout.toMillis()))
                                    .addLast(new HttpServerKeepAliveHandler())
                                    // GET /v1/images/{id}/file: a file streamed chunk by chunk as the socket drains
                                    .addLast(new io.netty.handler.stream.ChunkedWriteHandler())
                                    .addLast(new ImageUploadHandler(routes, auth))
                                    .addLast(new BoundedAggregator(maxBody))
                                    .addLast(new ConsoleUpgrade(consoles, auth, workers, routes.http))
                                    .addLast(new ApiHandler(routes, auth, workers, events));
                        }
                    });
            Channel ch = b.bind(new InetSocketAddress(address, port)).syncUninterruptibly().channel();
            return new HttpServer(boss, io, ch);
        } catch (Exception e) { // bind() rethrows BindException unchecked
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            io.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IllegalStateException("cannot listen on " + address + ":" + port + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@code max_connections}: a connection beyond it is closed as it is accepted; one WARN a minute says so, with
     * how many were closed since the last one.
     */
    static final class ConnectionCap {
        private static final System.Logger LOG = System.getLogger(HttpServer.class.getName());
        private static final long WARN_EVERY_NANOS = TimeUnit.MINUTES.toNanos(1);
        private final int max;
        private final java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();
        private final java.util.concurrent.atomic.AtomicInteger refused = new java.util.concurrent.atomic.AtomicInteger();
        private final java.util.concurrent.atomic.AtomicLong lastWarn = new java.util.concurrent.atomic.AtomicLong(
                System.nanoTime() - WARN_EVERY_NANOS);

        ConnectionCap(int max) {
            this.max = max;
        }

        boolean admit(Channel ch) {
            if (open.incrementAndGet() > max) {
                open.decrementAndGet();
                int n = refused.incrementAndGet();
                long now = System.nanoTime();
                long last = lastWarn.get();
                if (now - last >= WARN_EVERY_NANOS && lastWarn.compareAndSet(last, now)) {
                    refused.addAndGet(-n);
                    LOG.log(System.Logger.Level.WARNING, "max_connections (" + max + ") reached: closed the new "
                            + "connection from " + ch.remoteAddress() + (n > 1 ? " and " + (n - 1) + " more since the "
                            + "last such warning" : "") + " (at most one such warning a minute)");
                }
                return false;
            }
            ch.closeFuture().addListener(f -> open.decrementAndGet());
            return true;
        }
    }

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    /** Stops accepting connections (in-flight responses may still be written until {@link #close}). */
    public void stopAccepting() {
        channel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        stopAccepting();
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        io.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
