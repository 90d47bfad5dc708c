package org.berth.agent.api;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.lang.System.Logger.Level;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

/**
 * Gives every request an id, checks the bearer token and hands the request to the API worker pool; the event loop
 * never runs a route (routes read the store and call drivers). It only answers itself what
 * {@link Routes#immediate} has ready without blocking.
 */
final class ApiHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    static final String REQUEST_ID = "x-openstack-request-id";
    private static final System.Logger LOG = System.getLogger(ApiHandler.class.getName());

    private final Routes routes;
    private final TokenAuth auth;
    private final ExecutorService workers;
    private final EventStream events;

    ApiHandler(Routes routes, TokenAuth auth, ExecutorService workers, EventStream events) {
        this.routes = routes;
        this.auth = auth;
        this.workers = workers;
        this.events = events;
    }

    static String newRequestId() {
        return "req-" + UUID.randomUUID();
    }

    static Response unauthorized() {
        return Errors.body(new ApiError(401, "Authorization", "bearer_token",
                "a valid 'Authorization: Bearer <token>' header is required (the token is in <state_dir>/token)"))
                .withHeader("WWW-Authenticate", "Bearer");
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        String requestId = newRequestId();
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        String method = req.method().name();
        if (req.decoderResult().isFailure()) {
            send(ctx, method, Errors.body(new ApiError(400, "request", "http", "malformed HTTP request")), requestId, false);
            return;
        }
        QueryStringDecoder qs;
        try {
            qs = new QueryStringDecoder(req.uri());
            qs.parameters();
        } catch (IllegalArgumentException e) {
            send(ctx, method, Errors.body(new ApiError(400, "uri", "invalid", "uri: cannot be decoded")), requestId, keepAlive);
            return;
        }
        long generation = qs.path().equals("/healthz") ? 0 : auth.generation(req.headers().get(HttpHeaderNames.AUTHORIZATION));
        if (generation < 0) {
            send(ctx, method, unauthorized(), requestId, keepAlive);
            return;
        }
        if (qs.path().equals("/v1/events") && method.equals("GET")) {
            routes.http.count(method, 200);
            if (!events.subscribe(ctx.channel(), requestId)) {
                send(ctx, method, Errors.body(new ApiError(503, "agent", "busy", "too many event subscribers")),
                        requestId, false);
            } else if (!auth.isCurrent(generation)) {
                events.end(ctx.channel()); // rotated between the check and the subscription: closeAll missed it
            }
            return;
        }
        if (method.equals("GET") && FILE.matcher(qs.path()).matches()) {
            streamFile(ctx, qs.path(), requestId, keepAlive);
            return;
        }
        Request request = new Request(method, qs.path(), qs.parameters(), ByteBufUtil.getBytes(req.content()),
                req.headers().get(HttpHeaderNames.CONTENT_TYPE), requestId, confidential(ctx), peer(ctx));
        Response ready = routes.immediate(request);
        if (ready != null) {
            // Nothing to wait for (a rendered list that is still current, /healthz): no trip through the workers.
            send(ctx, method, ready, requestId, keepAlive);
            return;
        }
        try {
            workers.execute(() -> {
                Response resp;
                long t0 = System.nanoTime();
                try {
                    resp = routes.handle(request);
                } catch (Throwable t) {
                    resp = Errors.toResponse(t, requestId);
                }
                if (LOG.isLoggable(Level.DEBUG)) {
                    LOG.log(Level.DEBUG, requestId + " " + method + " " + request.path() + " " + resp.status() + " "
                            + (System.nanoTime() - t0) / 1_000_000 + " ms");
                }
                send(ctx, method, resp, requestId, keepAlive);
            });
        } catch (RejectedExecutionException e) {
            send(ctx, method, Errors.body(new ApiError(503, "agent", "busy", "too many requests in flight; retry")),
                    requestId, keepAlive);
        }
    }

    private static final java.util.regex.Pattern FILE = java.util.regex.Pattern.compile("/v1/images/[^/]+/file/?");

    /**
     * GET /v1/images/{id}/file: the image's bytes, streamed from its file in 64 KiB chunks as the socket takes them
     * (Netty's ChunkedWriteHandler reads the next chunk only when the channel is writable: memory stays bounded
     * whatever the size), with Content-Length and X-Image-Sha256 (the digest the image is registered with).
     */
    private void streamFile(ChannelHandlerContext ctx, String path, String requestId, boolean keepAlive) {
        try {
            workers.execute(() -> {
                ImageRoutes.ImageFile f;
                java.io.RandomAccessFile raf;
                try {
                    String id = Routes.uuidSegment(path.split("/")[3]).toString();
                    f = routes.images().file(id);
                    raf = new java.io.RandomAccessFile(f.file().toFile(), "r");
                } catch (java.io.IOException e) {
                    send(ctx, "GET", Errors.body(new ApiError(404, "id", "not_found", "image file: " + e.getMessage())),
                            requestId, keepAlive);
                    return;
                } catch (Throwable t) {
                    send(ctx, "GET", Errors.toResponse(t, requestId), requestId, keepAlive);
                    return;
                }
                routes.http.count("GET", 200);
                io.netty.handler.codec.http.HttpResponse head = new io.netty.handler.codec.http.DefaultHttpResponse(
                        HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
                head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream")
                        .set("X-Image-Sha256", f.image().sha256()).set("X-Image-Id", f.image().id())
                        .set(REQUEST_ID, requestId);
                HttpUtil.setContentLength(head, f.size());
                HttpUtil.setKeepAlive(head, keepAlive);
                ctx.write(head);
                try {
                    ctx.writeAndFlush(new io.netty.handler.codec.http.HttpChunkedInput(
                            new io.netty.handler.stream.ChunkedFile(raf, 0, f.size(), 64 * 1024)))
                            .addListener(done -> {
                                raf.close();
                                if (!done.isSuccess()) {
                                    ctx.close();
                                }
                            });
                } catch (java.io.IOException e) {
                    ctx.close();
                }
            });
        } catch (RejectedExecutionException e) {
            send(ctx, "GET", Errors.body(new ApiError(503, "agent", "busy", "too many requests in flight; retry")),
                    requestId, keepAlive);
        }
    }

    /** The client's address and port, as recorded in events. */
    static String peer(ChannelHandlerContext ctx) {
        return String.valueOf(ctx.channel().remoteAddress()).replaceFirst("^/", "");
    }

    /** Over TLS, or from this host: nobody on the path can read what is sent back. */
    static boolean confidential(ChannelHandlerContext ctx) {
        return ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class) != null
                || ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress a
                && a.getAddress() != null && a.getAddress().isLoopbackAddress();
    }

    private void send(ChannelHandlerContext ctx, String method, Response r, String requestId, boolean keepAlive) {
        send(ctx, routes.http, method, r, requestId, keepAlive);
    }

    /** Writes one full response with the request id and Content-Length; thread-safe (Netty queues the write). */
    /**
     * Where to write an answer after which this side closes the connection itself, later, once the request body
     * still coming is read: past {@code HttpServerKeepAliveHandler}, which would close as soon as a
     * {@code Connection: close} answer is written (and a close with unread body bytes makes the kernel reset the
     * connection, which can destroy the answer before the client reads it).
     */
    static ChannelHandlerContext pastKeepAlive(ChannelHandlerContext ctx) {
        ChannelHandlerContext keepAlive = ctx.pipeline().context(io.netty.handler.codec.http.HttpServerKeepAliveHandler.class);
        return keepAlive != null ? keepAlive : ctx;
    }

    static io.netty.channel.ChannelFuture send(ChannelHandlerContext ctx, HttpStats stats, String method, Response r,
                                               String requestId, boolean keepAlive) {
        stats.count(method, r.status());
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(r.status()),
                r.content());
        if (r.contentType() != null) {
            resp.headers().set(HttpHeaderNames.CONTENT_TYPE, r.contentType());
        }
        r.headers().forEach((k, v) -> resp.headers().set(k, v));
        resp.headers().set(REQUEST_ID, requestId);
        HttpUtil.setContentLength(resp, r.body().length);
        HttpUtil.setKeepAlive(resp, keepAlive);
        return ctx.writeAndFlush(resp);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(Level.DEBUG, "connection error: " + safe(cause));
        ctx.close();
    }

    /**
     * What may be logged of a connection's exception: decoder and TLS exceptions (Netty's NotSslRecordException
     * hex-dumps the bytes received, which can hold the bearer token) give only their class names; others their
     * message without control characters, cut to 200 characters.
     */
    static String safe(Throwable cause) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = cause; c != null && sb.length() < 500; c = c.getCause() == c ? null : c.getCause()) {
            if (!sb.isEmpty()) {
                sb.append(" caused by ");
            }
            sb.append(c.getClass().getName());
            if (c instanceof io.netty.handler.codec.DecoderException || c instanceof javax.net.ssl.SSLException
                    || c.getMessage() == null) {
                continue;
            }
            String m = c.getMessage().replaceAll("\\p{Cntrl}", " ");
            sb.append(": ").append(m.length() > 200 ? m.substring(0, 200) + "…" : m);
        }
        return sb.toString();
    }
}
