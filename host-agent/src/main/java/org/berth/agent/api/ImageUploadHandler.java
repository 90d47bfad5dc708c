package org.berth.agent.api;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.berth.agent.image.ImageUpload;

/**
 * The streamed form of POST /v1/images ({@code Content-Type: application/octet-stream}, metadata in the query).
 * It sits before the aggregator so the body never collects in memory. The token, the query and a declared
 * Content-Length are checked before a byte of the body is read (with {@code Expect: 100-continue} a refused client
 * sends nothing). Chunks go, in order, to one writer thread per upload that appends them to a temp file in the
 * agent's image directory; socket reads pause while more than {@link #HIGH_WATER} bytes wait. Oversize, a
 * disconnect or a stalled client delete the temp file. Every other request passes through untouched.
 */
final class ImageUploadHandler extends ChannelInboundHandlerAdapter {
    private static final System.Logger LOG = System.getLogger(ImageUploadHandler.class.getName());
    static final long HIGH_WATER = 4 << 20;
    static final long LOW_WATER = 1 << 20;
    /** How much of a refused body is read and dropped so the client sees the answer; beyond it, close. */
    static final long DISCARD_LIMIT = 16 << 20;

    private enum State { PASS, UPLOAD, DISCARD }

    private final Routes routes;
    private final TokenAuth auth;
    private State state = State.PASS;
    private Writer writer;
    private ChannelFuture refused;
    private long discarded;

    ImageUploadHandler(Routes routes, TokenAuth auth) {
        this.routes = routes;
        this.auth = auth;
    }

    static boolean isUpload(HttpRequest req) {
        if (!req.method().equals(HttpMethod.POST)) {
            return false;
        }
        String ct = req.headers().get(HttpHeaderNames.CONTENT_TYPE);
        if (ct == null || !ct.toLowerCase(Locale.ROOT).startsWith("application/octet-stream")) {
            return false;
        }
        String uri = req.uri();
        int q = uri.indexOf('?');
        return (q < 0 ? uri : uri.substring(0, q)).replaceAll("/+$", "").equals("/v1/images");
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest req) {
            if (!isUpload(req)) {
                state = State.PASS;
                ctx.fireChannelRead(msg);
                return;
            }
            start(ctx, req);
        }
        if (msg instanceof HttpContent c) {
            switch (state) {
                case PASS -> ctx.fireChannelRead(msg);
                case UPLOAD -> upload(ctx, c);
                case DISCARD -> {
                    boolean last = c instanceof LastHttpContent;
                    discarded += c.content().readableBytes();
                    c.release();
                    if (last || discarded > DISCARD_LIMIT) {
                        refused.addListener(ChannelFutureListener.CLOSE);
                    }
                }
            }
        } else if (!(msg instanceof HttpRequest)) {
            ctx.fireChannelRead(msg);
        }
    }

    private void start(ChannelHandlerContext ctx, HttpRequest req) {
        String requestId = ApiHandler.newRequestId();
        if (req.decoderResult().isFailure()) {
            refuse(ctx, req, Errors.body(new ApiError(400, "request", "http", "malformed HTTP request")), requestId);
            return;
        }
        if (!auth.accepts(req.headers().get(HttpHeaderNames.AUTHORIZATION))) {
            refuse(ctx, req, ApiHandler.unauthorized(), requestId);
            return;
        }
        long max = routes.images().maxUploadBytes();
        ImageUpload upload;
        boolean claimed = false;
        try {
            long length = HttpUtil.getContentLength(req, -1L);
            if (length > max) {
                refuse(ctx, req, tooLarge(max), requestId);
                return;
            }
            QueryStringDecoder qs = new QueryStringDecoder(req.uri());
            routes.images().claimUploadSlot();
            claimed = true;
            // validates the query and creates the (empty) temp file: small enough for the event loop
            upload = routes.images().beginUpload(new Request("POST", qs.path(), qs.parameters(), new byte[0],
                    req.headers().get(HttpHeaderNames.CONTENT_TYPE), requestId, false, ApiHandler.peer(ctx)));
        } catch (NumberFormatException e) {
            refuse(ctx, req, Errors.body(new ApiError(400, "Content-Length", "number", "Content-Length: not a number")),
                    requestId);
            return;
        } catch (Exception e) {
            if (claimed) {
                routes.images().releaseUploadSlot();
            }
            refuse(ctx, req, Errors.toResponse(e, requestId), requestId);
            return;
        }
        // from here the writer owns the slot and releases it when it ends, whatever the end
        writer = new Writer(ctx, upload, requestId, HttpUtil.isKeepAlive(req), max);
        state = State.UPLOAD;
        Thread.ofVirtual().name("berth-upload-" + requestId).start(writer);
        if (HttpUtil.is100ContinueExpected(req)) {
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                    Unpooled.EMPTY_BUFFER));
        }
    }

    private void upload(ChannelHandlerContext ctx, HttpContent c) {
        Writer w = writer;
        w.received += c.content().readableBytes();
        if (w.received > w.max) {
            c.release();
            w.abort();
            writer = null;
            refuse(ctx, null, tooLarge(w.max), w.requestId);
            if (c instanceof LastHttpContent) {
                refused.addListener(ChannelFutureListener.CLOSE);
            }
            return;
        }
        boolean last = c instanceof LastHttpContent;
        w.offer(c);
        if (last) {
            writer = null;
            state = State.PASS;
        }
    }

    private static Response tooLarge(long max) {
        return Errors.body(new ApiError(413, "body", "max_size",
                "body: larger than max_image_upload_bytes (" + max + " bytes)"));
    }

    /**
     * Answers an error and closes the connection; a body the client still sends is read and dropped first (up to
     * {@link #DISCARD_LIMIT}), so that the client sees the answer rather than a reset.
     */
    private void refuse(ChannelHandlerContext ctx, HttpRequest req, Response r, String requestId) {
        refused = ApiHandler.send(ApiHandler.pastKeepAlive(ctx), routes.http, "POST", r, requestId, false);
        state = State.DISCARD;
        discarded = 0;
        ctx.channel().config().setAutoRead(true); // an aborted upload may have paused reading: the rest is dropped
        boolean bodyFollows = req == null || (!HttpUtil.is100ContinueExpected(req)
                && (HttpUtil.isTransferEncodingChunked(req) || HttpUtil.getContentLength(req, 0L) > 0));
        if (!bodyFollows) {
            refused.addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (writer != null) {
            writer.abort();
            writer = null;
        }
        super.channelInactive(ctx);
    }

    /** Appends one upload's chunks to its temp file, in order, off the event loop. */
    private final class Writer implements Runnable {
        private static final Object ABORT = new Object();
        private final ChannelHandlerContext ctx;
        private final ImageUpload upload;
        private final String requestId;
        private final boolean keepAlive;
        private final long max;
        private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
        private final AtomicLong queued = new AtomicLong();
        private volatile boolean paused;
        private volatile boolean aborted;
        private boolean closed; // guarded by this
        long received; // event loop only

        Writer(ChannelHandlerContext ctx, ImageUpload upload, String requestId, boolean keepAlive, long max) {
            this.ctx = ctx;
            this.upload = upload;
            this.requestId = requestId;
            this.keepAlive = keepAlive;
            this.max = max;
        }

        /** On the event loop: queues the chunk (owned from now on) and pauses reading when too much waits. */
        void offer(HttpContent c) {
            int n = c.content().readableBytes();
            synchronized (this) {
                if (closed) {
                    c.release();
                    return;
                }
                queued.addAndGet(n);
                queue.add(c);
            }
            if (queued.get() > HIGH_WATER && !paused) {
                paused = true;
                ctx.channel().config().setAutoRead(false);
                resumeIfDrained(); // the writer may have drained the queue before it could see paused
            }
        }

        private void resumeIfDrained() {
            if (paused && queued.get() <= LOW_WATER) {
                paused = false;
                ctx.channel().config().setAutoRead(true);
            }
        }

        void abort() {
            aborted = true;
            queue.add(ABORT);
        }

        @Override
        public void run() {
            try {
                while (true) {
                    Duration idle = routes.images().uploadIdleTimeout();
                    Object m = queue.poll(idle.toMillis(), TimeUnit.MILLISECONDS);
                    if (m == null) {
                        ApiHandler.send(ctx, routes.http, "POST", Errors.body(new ApiError(408, "body", "idle",
                                "body: no bytes for image_upload_idle_timeout (" + idle.toMillis() + " ms); upload abandoned")),
                                requestId, false)
                                .addListener(ChannelFutureListener.CLOSE);
                        return;
                    }
                    if (m == ABORT || aborted) {
                        return;
                    }
                    HttpContent c = (HttpContent) m;
                    boolean last = c instanceof LastHttpContent;
                    try {
                        for (ByteBuffer b : c.content().nioBuffers()) {
                            upload.write(b);
                        }
                    } finally {
                        long left = queued.addAndGet(-c.content().readableBytes());
                        c.release();
                        if (paused && left <= LOW_WATER) {
                            ctx.channel().eventLoop().execute(this::resumeIfDrained);
                        }
                    }
                    if (last) {
                        finish();
                        return;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Exception e) {
                ApiHandler.send(ctx, routes.http, "POST", Errors.toResponse(e, requestId), requestId, false)
                        .addListener(ChannelFutureListener.CLOSE);
            } finally {
                upload.abort();
                drain();
                routes.images().releaseUploadSlot();
            }
        }

        private void finish() {
            Response r;
            try {
                r = ImageRoutes.created(upload.finish());
                LOG.log(System.Logger.Level.INFO, requestId + " image " + upload.meta().name() + " uploaded ("
                        + upload.size() + " bytes)");
            } catch (Exception e) {
                r = Errors.toResponse(e, requestId);
            }
            ApiHandler.send(ctx, routes.http, "POST", r, requestId, keepAlive);
        }

        private synchronized void drain() {
            closed = true;
            for (Object m; (m = queue.poll()) != null; ) {
                if (m instanceof HttpContent c) {
                    c.release();
                }
            }
        }
    }
}
