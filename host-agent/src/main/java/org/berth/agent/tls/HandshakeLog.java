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
            LOG.log(Level.WARNING, "TLS handshake with " + ctx.channel().remoteAddress() + " failed: "
                    + reason(cause) + "; connection closed");
        }
        ctx.close();
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
