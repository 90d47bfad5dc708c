package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.timeout.IdleStateEvent;

import java.time.Duration;
import java.util.function.Consumer;

/**
 * The last inbound handler of a connection: answers the server's {@code echo} keepalive, hands responses to
 * {@link PendingCalls}, notifications to a listener, and fails the connection's calls when it breaks.
 * On reader idle it sends its own {@code echo}; a server that does not answer it is disconnected.
 */
final class RpcHandler extends SimpleChannelInboundHandler<JsonRpcMessage> {
    private final PendingCalls pending;
    private final Consumer<JsonRpcMessage.Notification> notifications;
    private final Duration echoTimeout;

    RpcHandler(PendingCalls pending, Consumer<JsonRpcMessage.Notification> notifications, Duration echoTimeout) {
        this.pending = pending;
        this.notifications = notifications;
        this.echoTimeout = echoTimeout;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, JsonRpcMessage msg) {
        switch (msg) {
            case JsonRpcMessage.Response r -> pending.complete(r);
            case JsonRpcMessage.Request r when r.method().equals("echo") ->
                    ctx.writeAndFlush(new JsonRpcMessage.Response(r.id(), r.params(), null));
            case JsonRpcMessage.Request r -> ctx.writeAndFlush(new JsonRpcMessage.Response(r.id(), null,
                    JsonNodeFactory.instance.textNode("unknown method " + r.method())));
            case JsonRpcMessage.Notification n -> notifications.accept(n);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            pending.call(ctx.channel(), "echo", JsonNodeFactory.instance.arrayNode(), echoTimeout)
                    .whenComplete((r, e) -> {
                        if (e != null) {
                            ctx.close();
                        }
                    });
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable reason = cause.getClass() == DecoderException.class && cause.getCause() != null ? cause.getCause() : cause;
        // Close first: a call made after its predecessor failed must not go out on this connection.
        ctx.close();
        if (cause instanceof DecoderException) {
            pending.failAll(ctx.channel(), OvsdbException.Kind.PROTOCOL,
                    "protocol error from ovsdb-server: " + reason.getMessage(), cause);
        } else {
            // I/O errors (connection reset...): the connection is gone, not confused.
            pending.failAll(ctx.channel(), OvsdbException.Kind.DISCONNECTED,
                    "connection to ovsdb-server failed: " + reason.getMessage(), cause);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        pending.failAll(ctx.channel(), OvsdbException.Kind.DISCONNECTED, "connection to ovsdb-server closed", null);
        super.channelInactive(ctx);
    }
}
