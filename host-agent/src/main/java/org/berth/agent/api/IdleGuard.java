package org.berth.agent.api;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import java.lang.System.Logger.Level;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code idle_timeout}: closes a connection that has no complete request within the timeout after it opened (its
 * TLS handshake included) or after its last answer was written, so that sockets that send nothing, or a request
 * byte by byte, do not stay open. Not armed while a complete request is being answered (a {@code /v1/events}
 * stream is one whose answer never ends) nor during an image upload (which has {@code image_upload_idle_timeout}).
 * Right after {@code HttpServerCodec}: it sees the decoded requests and every answer.
 */
final class IdleGuard extends ChannelDuplexHandler {
    private static final System.Logger LOG = System.getLogger(IdleGuard.class.getName());
    private final long timeoutMillis;
    private ScheduledFuture<?> timer; // event loop only
    /** Complete requests (or started uploads) not answered yet: the timer runs only at 0. */
    private int pending;
    private boolean counted; // this request was counted when it started (an upload)

    IdleGuard(long timeoutMillis) {
        this.timeoutMillis = timeoutMillis;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        arm(ctx);
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest req && ImageUploadHandler.isUpload(req)) {
            counted = true;
            pending++;
            cancel();
        }
        if (msg instanceof LastHttpContent) {
            if (!counted) {
                pending++;
            }
            counted = false;
            cancel();
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        boolean informational = msg instanceof HttpResponse r && r.status().codeClass() == HttpStatusClass.INFORMATIONAL;
        if (msg instanceof LastHttpContent && !informational) {
            promise = promise.unvoid();
            promise.addListener(f -> {
                pending = Math.max(0, pending - 1);
                if (pending == 0) {
                    arm(ctx);
                }
            });
        }
        super.write(ctx, msg, promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        cancel();
        super.channelInactive(ctx);
    }

    private void arm(ChannelHandlerContext ctx) {
        cancel();
        if (!ctx.channel().isActive()) {
            return;
        }
        timer = ctx.executor().schedule(() -> {
            if (pending == 0 && ctx.channel().isActive()) {
                LOG.log(Level.DEBUG, () -> "closing " + ctx.channel().remoteAddress() + ": no complete request within "
                        + "idle_timeout (" + timeoutMillis + " ms)");
                ctx.close();
            }
        }, timeoutMillis, TimeUnit.MILLISECONDS);
    }

    private void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }
}
