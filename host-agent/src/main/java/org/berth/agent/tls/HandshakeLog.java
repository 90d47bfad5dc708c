package org.berth.agent.tls;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.lang.System.Logger.Level;
import java.nio.channels.ClosedChannelException;
import javax.net.ssl.SSLException;

/**
 * Right after the {@code SslHandler}: a failed handshake (plain HTTP, an unknown client CA, an expired certificate,
 * TLS 1.0/1.1, the handshake timeout) gives one WARN line with the peer and the reason, and that connection is
 * closed; the exceptions the same failure raises after the event are not logged again. The reason never quotes the
 * bytes received (plain HTTP to this port would carry the bearer token).
 */
final class HandshakeLog extends ChannelInboundHandlerAdapter {
    private static final System.Logger LOG = System.getLogger(ServerTls.class.getName());
    private static final java.util.regex.Pattern ALERT = java.util.regex.Pattern.compile(
            "(?:Received fatal alert: |Alert: )([a-z_]+)");
    private boolean done;
    /** The handshake failed: every later exception of this connection is dropped here (it may quote its bytes). */
    private boolean failed;
    private final Limit limit;

    HandshakeLog(Limit limit) {
        this.limit = limit;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof SslHandshakeCompletionEvent e) {
            if (e.isSuccess()) {
                done = true;
                ctx.fireUserEventTriggered(evt);
                ctx.pipeline().remove(this);
                return;
            } else {
                fail(ctx, e.cause());
                return;
            }
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (failed) {
            ctx.close(); // the rest of a failed handshake (e.g. NotSslRecordException, whose message hex-dumps the bytes)
        } else if (done) {
            ctx.fireExceptionCaught(cause);
        } else {
            fail(ctx, cause);
        }
    }

    private void fail(ChannelHandlerContext ctx, Throwable cause) {
        if (!done) {
            done = true;
            failed = true;
            java.net.SocketAddress peer = ctx.channel().remoteAddress();
            Object host = peer instanceof java.net.InetSocketAddress a && a.getAddress() != null ? a.getAddress() : peer;
            long suppressed = limit.admit(host, System.nanoTime());
            if (suppressed > 0) {
                LOG.log(Level.WARNING, "TLS handshake failures from " + host + ": " + suppressed + " more suppressed "
                        + "(at most " + PER_MINUTE + " logged a minute per address)");
            }
            if (suppressed >= 0) {
                LOG.log(Level.WARNING, "TLS handshake with " + peer + " failed: " + reason(cause)
                        + "; connection closed");
            }
        }
        ctx.close();
    }

    static final int PER_MINUTE = 10;

    /** One per {@link ServerTls}: its WARN lines per peer address. */
    static Limit newLimit() {
        return new Limit(PER_MINUTE, java.util.concurrent.TimeUnit.MINUTES.toNanos(1), 10_000);
    }

    /**
     * At most {@code max} lines per key a window; a key's first line in a new window brings the count of the ones
     * dropped in its last window. Keys are bounded: past {@code maxKeys}, windows that ended are forgotten.
     */
    static final class Limit {
        private final int max;
        private final long window;
        private final int maxKeys;
        private final java.util.Map<Object, long[]> keys = new java.util.HashMap<>(); // {start, logged, dropped}

        Limit(int max, long windowNanos, int maxKeys) {
            this.max = max;
            this.window = windowNanos;
            this.maxKeys = maxKeys;
        }

        /** -1: drop this line; else log it, after a line saying how many were dropped before (when &gt; 0). */
        synchronized long admit(Object key, long now) {
            long[] w = keys.get(key);
            if (w == null) {
                if (keys.size() >= maxKeys) {
                    keys.values().removeIf(v -> now - v[0] >= window);
                    if (keys.size() >= maxKeys) {
                        keys.clear(); // that many addresses within a window: forget the counts rather than grow
                    }
                }
                w = new long[] {now, 0, 0};
                keys.put(key, w);
            }
            long dropped = 0;
            if (now - w[0] >= window) {
                dropped = w[2];
                w[0] = now;
                w[1] = 0;
                w[2] = 0;
            }
            if (w[1] >= max) {
                w[2]++;
                return -1;
            }
            w[1]++;
            return dropped;
        }
    }

    static String reason(Throwable cause) {
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (c instanceof NotSslRecordException) {
            return "not a TLS record (plain HTTP or another protocol sent to the TLS port)";
        }
        if (c instanceof SslHandshakeTimeoutException) {
            return "no complete handshake within the handshake timeout (" + c.getMessage().replaceAll(".*timed out after ", "") + ")";
        }
        if (c instanceof ClosedChannelException) {
            return "the peer closed the connection during the handshake";
        }
        if (c instanceof java.io.IOException && !(c instanceof SSLException)) {
            return "the connection failed during the handshake: " + clean(String.valueOf(c.getMessage())
                    .replaceAll("^.*failed with error\\(-?\\d+\\): ", ""));
        }
        java.util.regex.Matcher alert = ALERT.matcher(String.valueOf(c.getMessage()) + " "
                + (c.getCause() == null ? "" : c.getCause().getMessage()));
        if (alert.find()) {
            return "the client sent alert " + alert.group(1) + (alert.group(1).equals("unknown_ca")
                    || alert.group(1).equals("bad_certificate") ? " (it does not trust this agent's certificate: "
                    + "is its CA file this certificate's CA?)" : "");
        }
        Throwable root = c;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String msg = c instanceof SSLException && c.getMessage() != null ? c.getMessage() : c.toString();
        if (root != c && root.getMessage() != null && !msg.contains(root.getMessage())) {
            msg = msg + " (" + root.getMessage() + ")";
        }
        return clean(msg);
    }

    private static String clean(String msg) {
        String m = msg.replaceAll("\\p{Cntrl}", " ");
        return m.length() > 300 ? m.substring(0, 300) + "…" : m;
    }
}
