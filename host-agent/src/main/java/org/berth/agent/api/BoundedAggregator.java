package org.berth.agent.api;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

/** Bounds the request body: an oversized one gets 413 with the usual JSON error and request id, then a close. */
final class BoundedAggregator extends HttpObjectAggregator {
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
        ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
    }
}
