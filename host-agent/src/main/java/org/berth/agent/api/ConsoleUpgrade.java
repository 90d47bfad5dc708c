package org.berth.agent.api;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedWriteHandler;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.agent.console.ConsoleService;
import org.berth.agent.console.Session;
import org.berth.agent.console.SessionKind;
import org.berth.agent.console.Ticket;

/**
 * {@code GET /v1/instances/{uuid}/console} and {@code GET /v1/instances/{uuid}/exec} with {@code Upgrade: websocket}:
 * authenticates (the bearer token, or a one-use {@code ?ticket=}; an exec always needs its ticket, which carries the
 * command), opens the driver's stream on a worker thread, and only then upgrades, so every refusal is a plain HTTP
 * answer with the usual JSON error (401, 404, 409 naming the power state, 429, 501). Any other request passes on.
 */
final class ConsoleUpgrade extends ChannelInboundHandlerAdapter {
    private static final Pattern PATH = Pattern.compile("/v1/instances/([^/]+)/(console|exec)/?");

    private final ConsoleService consoles;
    private final TokenAuth auth;
    private final ExecutorService workers;
    private final HttpStats stats;

    ConsoleUpgrade(ConsoleService consoles, TokenAuth auth, ExecutorService workers, HttpStats stats) {
        this.consoles = consoles;
        this.auth = auth;
        this.workers = workers;
        this.stats = stats;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof FullHttpRequest req && req.method().equals(HttpMethod.GET)
                && req.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true)) {
            QueryStringDecoder qs = new QueryStringDecoder(req.uri());
            Matcher m = PATH.matcher(qs.path());
            if (m.matches()) {
                try {
                    upgrade(ctx, req, m, qs);
                } finally {
                    req.release();
                }
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    private void upgrade(ChannelHandlerContext ctx, FullHttpRequest req, Matcher m, QueryStringDecoder qs) {
        String requestId = ApiHandler.newRequestId();
        long epoch = consoles.epoch(); // before the credentials are checked: a rotation after this voids them
        SessionKind kind = m.group(2).equals("console") ? SessionKind.CONSOLE : SessionKind.EXEC;
        UUID uuid;
        try {
            uuid = Routes.uuidSegment(m.group(1));
        } catch (RuntimeException e) {
            refuse(ctx, Errors.toResponse(e, requestId), requestId);
            return;
        }
        List<String> tickets = qs.parameters().get("ticket");
        Optional<Ticket> ticket = Optional.empty();
        if (tickets != null && !tickets.isEmpty()) {
            ticket = consoles.redeem(tickets.get(0), uuid, kind);
            if (ticket.isEmpty()) {
                refuse(ctx, Errors.body(new ApiError(401, "ticket", "invalid", "ticket: unknown, already used, expired "
                        + "or issued for another instance or session kind; ask POST /v1/instances/" + uuid + "/"
                        + kind.word() + " for a new one")), requestId);
                return;
            }
        } else if (auth.generation(req.headers().get(HttpHeaderNames.AUTHORIZATION)) < 0) {
            refuse(ctx, ApiHandler.unauthorized(), requestId);
            return;
        } else if (kind == SessionKind.EXEC) {
            refuse(ctx, Errors.body(new ApiError(400, "ticket", "required", "ticket: an exec session runs the command "
                    + "of a ticket from POST /v1/instances/" + uuid + "/exec; open ?ticket=<it>")), requestId);
            return;
        }
        if (!req.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)
                || !req.headers().contains(HttpHeaderNames.SEC_WEBSOCKET_KEY)) {
            // checked before anything opens (an exec's command would run, then be killed by the failed handshake)
            refuse(ctx, Errors.body(new ApiError(400, "Upgrade", "websocket", "a WebSocket upgrade needs "
                    + "'Connection: Upgrade' and 'Sec-WebSocket-Key' (RFC 6455)")), requestId);
            return;
        }
        String who = who(ctx, ticket);
        Optional<Ticket> t = ticket;
        WebSocketServerHandshaker handshaker = new WebSocketServerHandshakerFactory(
                (ctx.pipeline().get(SslHandler.class) != null ? "wss://" : "ws://") + req.headers().get(HttpHeaderNames.HOST)
                        + qs.path(), null,
                WebSocketDecoderConfig.newBuilder().maxFramePayloadLength(consoles.config().maxFrameBytes())
                        .allowExtensions(false).closeOnProtocolViolation(true).build()).newHandshaker(req);
        if (handshaker == null) {
            stats.count("GET", 426);
            WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
            return;
        }
        FullHttpRequest kept = req.retainedDuplicate();
        try {
            workers.execute(() -> {
                Session session;
                try {
                    session = consoles.open(uuid, kind, t.flatMap(Ticket::exec), who, requestId, epoch);
                } catch (Throwable e) {
                    kept.release();
                    refuse(ctx, Errors.toResponse(e, requestId), requestId);
                    return;
                }
                try {
                    ctx.executor().execute(() -> handshake(ctx, handshaker, kept, session, requestId));
                } catch (RejectedExecutionException e) {
                    kept.release(); // the event loop is shutting down with the agent
                    session.terminate("the agent is stopping");
                }
            });
        } catch (RejectedExecutionException e) {
            kept.release();
            refuse(ctx, Errors.body(new ApiError(503, "agent", "busy", "too many requests in flight; retry")), requestId);
        }
    }

    /** On the event loop: the HTTP handlers leave, the WebSocket codec comes in, the session starts. */
    private void handshake(ChannelHandlerContext ctx, WebSocketServerHandshaker hs, FullHttpRequest req,
                           Session session, String requestId) {
        try {
            var p = ctx.pipeline();
            for (Class<? extends io.netty.channel.ChannelHandler> h : List.of(IdleGuard.class,
                    HttpServerKeepAliveHandler.class, ChunkedWriteHandler.class, ImageUploadHandler.class,
                    ApiHandler.class)) {
                if (p.get(h) != null) {
                    p.remove(h);
                }
            }
            var headers = new io.netty.handler.codec.http.DefaultHttpHeaders().set(ApiHandler.REQUEST_ID, requestId);
            hs.handshake(ctx.channel(), req, headers, ctx.newPromise()).addListener(f -> {
                if (f.isSuccess()) {
                    stats.count("GET", 101);
                    p.remove(this);
                    session.attach(ctx.channel());
                } else {
                    session.terminate("the WebSocket handshake failed: " + f.cause());
                    ctx.close();
                }
            });
        } catch (RuntimeException e) {
            session.terminate("the WebSocket handshake failed: " + e);
            ctx.close();
        } finally {
            req.release();
        }
    }

    private void refuse(ChannelHandlerContext ctx, Response r, String requestId) {
        ApiHandler.send(ctx, stats, "GET", r, requestId, false);
    }

    /** Who opened the session, for its events: the peer, its client certificate's subject, and how it proved itself. */
    private static String who(ChannelHandlerContext ctx, Optional<Ticket> ticket) {
        StringBuilder b = new StringBuilder(ApiHandler.peer(ctx));
        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        if (ssl != null) {
            try {
                var certs = ssl.engine().getSession().getPeerCertificates();
                if (certs.length > 0 && certs[0] instanceof java.security.cert.X509Certificate x) {
                    b.append(" (").append(x.getSubjectX500Principal().getName()).append(')');
                }
            } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                // no client certificate: the token or ticket is the credential
            }
        }
        b.append(ticket.map(t -> " with a ticket issued to " + t.issuedTo()).orElse(" with the token"));
        return b.toString();
    }
}
