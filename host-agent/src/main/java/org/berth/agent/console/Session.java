package org.berth.agent.console;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.ExecSpec;
import org.berth.driver.api.InstanceStream;

/**
 * One open console or exec session: the driver's {@link InstanceStream} joined to a WebSocket.
 *
 * <p>Output: one thread reads the stream and writes binary frames, but only while the channel is writable (Netty's
 * write buffer below its high-water mark): a client that does not read stops the reads, the driver's bounded buffer
 * fills and the driver stops reading from the backend, so a slow reader costs a fixed amount of memory. Input:
 * frames go to the stream on one writer thread, in order; the socket is not read while a write is pending, so a fast
 * writer is slowed to the backend's pace. Protocol (host-agent/README.md): binary frames are bytes both ways; text
 * frames are JSON control messages ({@code resize}, {@code eof} from the client; {@code exit} with the command's
 * status from the agent, the last message of an exec).
 */
public final class Session {
    private static final System.Logger LOG = System.getLogger(Session.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration POLL = Duration.ofMillis(500);
    private static final int CHUNK = 16 * 1024;

    private final ConsoleService service;
    private final UUID uuid;
    private final SessionKind kind;
    private final Optional<ExecSpec> exec;
    private final InstanceStream stream;
    private final String who;
    private final String requestId;
    private final long startedNanos = System.nanoTime();
    private final AtomicLong bytesIn = new AtomicLong();
    private final AtomicLong bytesOut = new AtomicLong();
    private final AtomicBoolean ended = new AtomicBoolean();
    /** Our close frame went out: nothing more is sent, what the client still sends is read and dropped. */
    private final AtomicBoolean closeSent = new AtomicBoolean();
    /** An exec whose stdin broke (the command closed it or exited): later input is dropped, the status still comes. */
    private volatile boolean inputBroken;
    private volatile String endReason = "";
    private final AtomicInteger pendingWrites = new AtomicInteger();
    private final ExecutorService writer;
    private final Object writable = new Object();
    private volatile long lastActivityNanos = System.nanoTime();
    private volatile Channel channel;
    private volatile Duration idleTimeout;

    Session(ConsoleService service, UUID uuid, SessionKind kind, Optional<ExecSpec> exec, InstanceStream stream,
            String who, String requestId) {
        this.service = service;
        this.uuid = uuid;
        this.kind = kind;
        this.exec = exec;
        this.stream = stream;
        this.who = who;
        this.requestId = requestId;
        this.writer = Executors.newSingleThreadExecutor(
                Thread.ofVirtual().name("berth-" + kind.word() + "-in-" + uuid.toString().substring(0, 8)).factory());
    }

    public UUID uuid() {
        return uuid;
    }

    SessionKind kind() {
        return kind;
    }

    String requestId() {
        return requestId;
    }

    String describeStart() {
        String what = exec.map(e -> " running " + program(e) + " (" + e.argv().size() + " argument(s)"
                + (e.tty() ? ", tty" : "") + ")").orElse("");
        return "by " + who + what;
    }

    /** The program's file name only: arguments may carry secrets, and nothing typed is recorded. */
    private static String program(ExecSpec e) {
        String p = e.argv().get(0);
        return p.substring(p.lastIndexOf('/') + 1);
    }

    /**
     * Joins the stream to {@code ch}, whose WebSocket handshake is done: frames of at most {@code maxFrameBytes}
     * (fragments reassembled within that bound), idle sessions closed after the configured timeout.
     */
    public void attach(Channel ch) {
        this.channel = ch;
        this.idleTimeout = service.config().idleTimeout();
        ch.pipeline().addLast(new WebSocketFrameAggregator(service.config().maxFrameBytes()))
                .addLast(new SessionHandler(this));
        if (ended.get()) {
            // ended between the open and the handshake (token rotated, agent stopping): say so and hang up
            closeSent.set(true);
            ch.writeAndFlush(new CloseWebSocketFrame(1001, cut(endReason))).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        if (!ch.isActive()) {
            finish("the connection closed during the handshake");
            return;
        }
        Thread.ofVirtual().name("berth-" + kind.word() + "-out-" + uuid.toString().substring(0, 8)).start(this::pump);
    }

    private void pump() {
        byte[] buf = new byte[CHUNK];
        try {
            while (!ended.get()) {
                Channel ch = channel;
                if (!ch.isActive()) {
                    finish("the client went away");
                    return;
                }
                if (!ch.isWritable()) {
                    awaitWritable(ch);
                    if (idleFor().compareTo(idleTimeout) > 0) {
                        closeWith(1001, "idle (the client read nothing) for " + idleTimeout.toSeconds() + " s",
                                "idle timeout");
                        return;
                    }
                    continue;
                }
                int n = stream.read(buf, 0, buf.length, POLL);
                if (n > 0) {
                    touch();
                    bytesOut.addAndGet(n);
                    ch.writeAndFlush(new BinaryWebSocketFrame(Unpooled.copiedBuffer(buf, 0, n)));
                } else if (n == 0) {
                    if (idleFor().compareTo(idleTimeout) > 0) {
                        closeWith(1001, "idle for " + idleTimeout.toSeconds() + " s", "idle timeout");
                        return;
                    }
                } else {
                    end();
                    return;
                }
            }
        } catch (DriverException e) {
            closeWith(1011, cut("backend: " + e.getMessage()), "backend error: " + e.getMessage());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, kind.word() + " session of " + uuid + " failed", e);
            closeWith(1011, "internal error", "internal error: " + e);
        }
    }

    /** The stream ended by itself: an exec's status, then a normal close. */
    private void end() {
        Channel ch = channel;
        if (ended.get() || closeSent.get()) {
            return; // ended from elsewhere (the client left, a terminate): the stream's end is that one's effect
        }
        if (kind == SessionKind.EXEC) {
            OptionalInt code = stream.exitCode();
            String msg = code.isPresent() ? "{\"type\":\"exit\",\"code\":" + code.getAsInt() + "}"
                    : "{\"type\":\"exit\",\"code\":null}";
            ch.writeAndFlush(new TextWebSocketFrame(msg));
            closeWith(1000, code.isPresent() ? "command exited with " + code.getAsInt() : "command ended",
                    code.isPresent() ? "exit " + code.getAsInt() : "ended without a status");
        } else {
            closeWith(1000, "the console ended (instance stopped or deleted)", "the console ended");
        }
    }

    private void awaitWritable(Channel ch) {
        synchronized (writable) {
            if (!ch.isWritable() && ch.isActive()) {
                try {
                    writable.wait(POLL.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    finish("interrupted");
                }
            }
        }
    }

    void writabilityChanged() {
        synchronized (writable) {
            writable.notifyAll();
        }
    }

    /** Bytes from the client (event loop): written to the stream in order, the socket paused meanwhile. */
    void input(byte[] bytes) {
        if (closeSent.get() || ended.get() || inputBroken) {
            return; // closing, or the command takes no more input: dropped
        }
        touch();
        bytesIn.addAndGet(bytes.length);
        onWriter(() -> stream.write(bytes, 0, bytes.length));
    }

    /** A control message from the client (event loop). */
    void control(String text) {
        if (closeSent.get() || ended.get()) {
            return;
        }
        touch();
        JsonNode msg;
        try {
            msg = JSON.readTree(text);
        } catch (Exception e) {
            msg = null;
        }
        String type = msg == null ? "" : msg.path("type").asText("");
        switch (type) {
            case "resize" -> {
                int cols = msg.path("columns").asInt(-1);
                int rows = msg.path("rows").asInt(-1);
                if (cols < 1 || cols > 1000 || rows < 1 || rows > 1000) {
                    closeWith(1007, "resize: columns and rows must be 1..1000", "bad control message");
                    return;
                }
                onWriter(() -> stream.resize(cols, rows));
            }
            case "eof" -> onWriter(stream::closeInput);
            default -> closeWith(1007, "control message: a JSON object with type resize or eof",
                    "bad control message");
        }
    }

    private void onWriter(Runnable op) {
        Channel ch = channel;
        pendingWrites.incrementAndGet();
        ch.config().setAutoRead(false);
        try {
            writer.execute(() -> {
                try {
                    if (!ended.get()) {
                        op.run();
                    }
                } catch (DriverException e) {
                    if (kind == SessionKind.EXEC) {
                        // the command closed its stdin or exited: its output and status still come through the
                        // pump, which ends the session (with 1011 itself if the backend really broke)
                        inputBroken = true;
                    } else {
                        closeWith(1011, cut("backend: " + e.getMessage()), "backend error: " + e.getMessage());
                    }
                } catch (RuntimeException e) {
                    closeWith(1011, "internal error", "internal error: " + e);
                } finally {
                    if (pendingWrites.decrementAndGet() == 0) {
                        ch.eventLoop().execute(() -> {
                            if (pendingWrites.get() == 0) {
                                ch.config().setAutoRead(true);
                            }
                        });
                    }
                }
            });
        } catch (RejectedExecutionException e) {
            // ended meanwhile: read the socket again (what comes is dropped) so the client's close gets through
            if (pendingWrites.decrementAndGet() == 0) {
                ch.config().setAutoRead(true);
            }
        }
    }

    /** The client closed or the connection dropped (event loop). */
    void clientGone(String why) {
        finish(why);
    }

    /** Ends the session from outside (token rotated, agent stopping). */
    public void terminate(String reason) {
        Channel ch = channel;
        if (ch == null) {
            finish(reason);
        } else {
            closeWith(1001, cut(reason), reason);
        }
    }

    /**
     * Our close frame (once), then the end. The connection is not dropped at once: the client's input still in
     * flight is read and dropped until its own close frame comes (or {@link #finish}'s timer), since closing a socket
     * with unread bytes makes the kernel reset it, which can destroy our last frames before the client reads them.
     */
    void closeWith(int code, String reason, String summary) {
        Channel ch = channel;
        if (ch != null && ch.isActive() && closeSent.compareAndSet(false, true)) {
            ch.eventLoop().execute(() -> ch.config().setAutoRead(true));
            ch.writeAndFlush(new CloseWebSocketFrame(code, cut(reason)));
        }
        finish(summary);
    }

    /** Whether our close frame went out (the client's close then only ends the connection). */
    boolean closeSent() {
        return closeSent.get();
    }

    /** Marks our close as sent: the caller writes the frame itself. */
    boolean markCloseSent() {
        return closeSent.compareAndSet(false, true);
    }

    /**
     * Once: the stream closed (an exec's command killed if still running), the slot freed, the session recorded. The
     * closing itself runs on a thread of its own: it may wait on the backend (an inspect, a kill, an RPC), which
     * must never happen on the event loop that serves other connections.
     */
    void finish(String reason) {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        endReason = reason;
        writer.shutdownNow();
        writabilityChanged();
        double seconds = (System.nanoTime() - startedNanos) / 1e9;
        service.ending(() -> {
            try {
                stream.close();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "closing the " + kind.word() + " stream of " + uuid + ": " + e);
            }
            OptionalInt code = kind == SessionKind.EXEC ? stream.exitCode() : OptionalInt.empty();
            String summary = String.format("by %s, %.1f s, %d bytes in, %d bytes out%s: %s", who, seconds,
                    bytesIn.get(), bytesOut.get(), code.isPresent() ? ", exit " + code.getAsInt() : "", reason);
            service.ended(this, summary);
        });
        Channel ch = channel;
        if (ch != null && ch.isActive()) {
            // give a close frame written just before a moment to leave, then drop the connection
            ch.eventLoop().schedule(() -> {
                ch.close();
            }, 2, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    private void touch() {
        lastActivityNanos = System.nanoTime();
    }

    private Duration idleFor() {
        return Duration.ofNanos(System.nanoTime() - lastActivityNanos);
    }

    /** A close reason fits in 123 bytes of UTF-8 (RFC 6455 §5.5). */
    private static String cut(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= 123) {
            return s;
        }
        return new String(b, 0, 120, StandardCharsets.UTF_8).replace("\uFFFD", "") + "...";
    }
}
