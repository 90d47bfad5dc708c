package org.berth.agent.api;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Bounds the request body: an oversized one gets 413 with the usual JSON error and request id, then a lingering
 * close: the answer is followed by a half-close (FIN), the rest of the body the client is still sending is read and
 * dropped (the aggregator discards it), and the connection is closed after {@link #LINGER}. Closing at once, with
 * unread body bytes in the socket, makes the kernel answer with a reset that can destroy the 413 before the client
 * reads it ("header parser received no bytes"). The answer is written {@link ApiHandler#pastKeepAlive past the
 * keep-alive handler}, which would otherwise close the connection as soon as the answer is written.
 */
final class BoundedAggregator extends HttpObjectAggregator {
    static final Duration LINGER = Duration.ofSeconds(2);
    private final int max;

    BoundedAggregator(int max) {
        super(max);
        this.max = max;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        Response r = Errors.body(new ApiError(413, "body", "max_size",
                "body: larger than max_request_body_bytes (" + max + " bytes)"));
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                Unpooled.wrappedBuffer(r.body()));
        resp.headers().set(HttpHeaderNames.CONTENT_TYPE, Response.JSON);
        resp.headers().set(ApiHandler.REQUEST_ID, ApiHandler.newRequestId());
        HttpUtil.setContentLength(resp, r.body().length);
        HttpUtil.setKeepAlive(resp, false);
        ctx.channel().config().setAutoRead(true);
        ApiHandler.pastKeepAlive(ctx).writeAndFlush(resp).addListener(written -> {
            if (written.isSuccess() && ctx.channel() instanceof DuplexChannel duplex) {
                duplex.shutdownOutput();
                ctx.executor().schedule(() -> ctx.close(), LINGER.toMillis(), TimeUnit.MILLISECONDS);
            } else {
                ctx.close();
            }
        });
    }
}
