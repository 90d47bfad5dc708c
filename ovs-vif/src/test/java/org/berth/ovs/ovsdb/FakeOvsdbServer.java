package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.json.JsonObjectDecoder;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A real OVSDB peer on a loopback TCP port or a unix socket, whose answer to each request is chosen by the test
 * ({@link Fault}). Everything the client sends is recorded in {@link #received}. Every instance is independent.
 */
public final class FakeOvsdbServer implements AutoCloseable {
    /** What the server does with one request. */
    public sealed interface Fault {
        record Reply(JsonNode result) implements Fault {
        }

        record Error(String error) implements Fault {
        }

        /** Never answers (a slow or stuck server). */
        record Silent() implements Fault {
        }

        /** Closes the connection instead of answering. */
        record Disconnect() implements Fault {
        }

        /** Sends these bytes as they are, instead of an answer. */
        record Raw(String bytes) implements Fault {
        }
    }

    public final BlockingQueue<JsonRpcMessage> received = new LinkedBlockingQueue<>();
    public final AtomicInteger connections = new AtomicInteger();
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private final Channel server;
    private volatile Channel last;
    private final ChannelGroup children = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

    private FakeOvsdbServer(boolean unix, Path socket, Function<JsonRpcMessage.Request, Fault> behaviour)
            throws InterruptedException {
        ServerBootstrap b = new ServerBootstrap().group(group)
                .channel(unix ? EpollServerDomainSocketChannel.class : EpollServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        connections.incrementAndGet();
                        children.add(ch);
                        last = ch;
                        ch.pipeline().addLast(new JsonObjectDecoder(1 << 20), new JsonRpcCodec(),
                                new SimpleChannelInboundHandler<JsonRpcMessage>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, JsonRpcMessage msg) {
                                        received.add(msg);
                                        if (msg instanceof JsonRpcMessage.Request r) {
                                            answer(ctx, r, behaviour.apply(r));
                                        }
                                    }
                                });
                    }
                });
        server = b.bind(unix ? new DomainSocketAddress(socket.toString()) : new InetSocketAddress("127.0.0.1", 0))
                .sync().channel();
    }

    public static FakeOvsdbServer tcp(Function<JsonRpcMessage.Request, Fault> behaviour) throws InterruptedException {
        return new FakeOvsdbServer(false, null, behaviour);
    }

    static FakeOvsdbServer unix(Path socket, Function<JsonRpcMessage.Request, Fault> behaviour)
            throws InterruptedException {
        return new FakeOvsdbServer(true, socket, behaviour);
    }

    /** Answers echo with its params and everything else with an empty transaction result. */
    public static Fault healthy(JsonRpcMessage.Request r) {
        return new Fault.Reply(r.method().equals("echo") ? r.params() : JsonNodeFactory.instance.arrayNode());
    }

    private static void answer(ChannelHandlerContext ctx, JsonRpcMessage.Request r, Fault fault) {
        switch (fault) {
            case Fault.Reply reply -> ctx.writeAndFlush(new JsonRpcMessage.Response(r.id(), reply.result(), null));
            case Fault.Error error -> ctx.writeAndFlush(new JsonRpcMessage.Response(r.id(), null,
                    JsonNodeFactory.instance.textNode(error.error())));
            case Fault.Silent silent -> {
            }
            case Fault.Disconnect d -> ctx.close();
            case Fault.Raw raw -> ctx.writeAndFlush(Unpooled.copiedBuffer(raw.bytes(), StandardCharsets.UTF_8));
        }
    }

    public String endpoint() {
        return server.localAddress() instanceof DomainSocketAddress d ? "unix:" + d.path()
                : "tcp:127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** Sends a request of the server's own (e.g. its echo keepalive) on the newest connection. */
    void sendToClient(String method, ArrayNode params, long id) throws InterruptedException {
        // The client's connect can complete before this side has set the accepted channel up.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (last == null || !last.isActive()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no client connection within 2 s");
            }
            Thread.sleep(5);
        }
        last.writeAndFlush(new JsonRpcMessage.Request(JsonNodeFactory.instance.numberNode(id), method, params));
    }

    /** The next message the client sent, waiting at most 2 s. */
    JsonRpcMessage next() throws InterruptedException {
        JsonRpcMessage m = received.poll(2, TimeUnit.SECONDS);
        if (m == null) {
            throw new AssertionError("the client sent nothing within 2 s");
        }
        return m;
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        children.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
