package org.berth.agent.console;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;

/** The frames of one session's WebSocket, on the event loop: bytes and control messages to its {@link Session}. */
final class SessionHandler extends SimpleChannelInboundHandler<WebSocketFrame> {
    private final Session session;

    SessionHandler(Session session) {
        this.session = session;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
        switch (frame) {
            case BinaryWebSocketFrame b -> session.input(ByteBufUtil.getBytes(b.content()));
            case TextWebSocketFrame t -> session.control(t.text());
            case PingWebSocketFrame p -> {
                if (ctx.channel().isWritable()) { // a client flooding pings and reading nothing gets no more pongs
                    ctx.writeAndFlush(new PongWebSocketFrame(p.content().retain()));
                }
            }
            case CloseWebSocketFrame c -> {
                if (session.markCloseSent()) {
                    ctx.writeAndFlush(new CloseWebSocketFrame(1000, "bye")).addListener(f -> ctx.close());
                } else {
                    ctx.close(); // the answer to our own close
                }
                session.clientGone("the client closed the session (" + c.statusCode() + ")");
            }
            default -> { } // pong: nothing to do
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        session.writabilityChanged();
        super.channelWritabilityChanged(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        session.clientGone("the connection was lost");
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof io.netty.handler.codec.TooLongFrameException) {
            // a message of several frames over console.max_frame_bytes (one frame over it is the decoder's 1009)
            session.closeWith(1009, "message over console.max_frame_bytes", "a message over the frame limit");
            return;
        }
        session.clientGone("connection error: " + cause.getMessage());
        ctx.close();
    }
}
