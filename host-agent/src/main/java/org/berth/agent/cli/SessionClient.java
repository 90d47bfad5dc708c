package org.berth.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The terminal side of a console or exec session (the agent's protocol, host-agent/README.md "Interactive access"):
 * stdin to binary frames, binary frames to stdout, {@code {"type":"exit"}} read for the status. One message is asked
 * of the agent at a time and written before the next: a stdout that blocks slows the agent, nothing piles up here.
 * On a console, Ctrl-] (0x1d, as telnet and virsh) leaves.
 */
final class SessionClient implements WebSocket.Listener {
    static final int ESCAPE = 0x1d;
    private static final Duration CLOSE_GRACE = Duration.ofSeconds(5);
    private static final Duration PING = Duration.ofSeconds(20);

    private final OutputStream out;
    private final StringBuilder text = new StringBuilder();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private volatile Integer exitCode;
    private volatile int closeCode = -1;
    private volatile String closeReason = "";
    private volatile long lastPongNanos = System.nanoTime();
    private volatile boolean outputBroken;

    SessionClient(OutputStream out) {
        this.out = out;
    }

    @Override
    public void onOpen(WebSocket ws) {
        ws.request(1);
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
        byte[] b = new byte[data.remaining()];
        data.get(b);
        try {
            out.write(b);
            out.flush();
        } catch (IOException e) {
            outputBroken = true; // our stdout is gone (`berth exec … | head`): nobody reads the session any more
            ws.abort();
            closed.complete(null);
            return null;
        }
        ws.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
        if (text.length() + data.length() <= 64 * 1024) {
            text.append(data);
        }
        if (last) {
            try {
                JsonNode m = ApiClient.JSON.readTree(text.toString());
                if ("exit".equals(m.path("type").asText()) && m.path("code").canConvertToInt()) {
                    exitCode = m.path("code").asInt();
                }
            } catch (IOException e) {
                // not a message of ours: ignored
            }
            text.setLength(0);
        }
        ws.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onPong(WebSocket ws, ByteBuffer message) {
        lastPongNanos = System.nanoTime();
        ws.request(1);
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
        closeCode = statusCode;
        closeReason = reason;
        closed.complete(null);
        return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
        closeReason = String.valueOf(error.getMessage());
        closed.complete(null);
    }

    /**
     * Pumps {@code in} to the session until the session closes, the user leaves (Ctrl-] with {@code escape}) or, at
     * the end of {@code in}, the input is closed ({@code eofMessage}) or the session left after a short grace.
     * The reading thread is a daemon: a stdin that never ends does not keep the CLI alive.
     */
    void run(WebSocket ws, InputStream in, boolean escape, boolean eofMessage, Duration sendTimeout) {
        CompletableFuture<Void> left = new CompletableFuture<>();
        Thread reader = Thread.ofPlatform().daemon().name("berth-stdin").start(() -> {
            byte[] buf = new byte[16 * 1024];
            try {
                int n;
                while ((n = in.read(buf)) >= 0 && !closed.isDone()) {
                    int cut = escape ? indexOf(buf, n, ESCAPE) : -1;
                    int len = cut >= 0 ? cut : n;
                    if (len > 0) {
                        ws.sendBinary(ByteBuffer.wrap(Arrays.copyOf(buf, len)), true)
                                .get(sendTimeout.toMillis(), TimeUnit.MILLISECONDS);
                    }
                    if (cut >= 0) {
                        left.complete(null);
                        return;
                    }
                }
                if (eofMessage && !closed.isDone()) {
                    ws.sendText("{\"type\":\"eof\"}", true).get(sendTimeout.toMillis(), TimeUnit.MILLISECONDS);
                } else {
                    Thread.sleep(1000); // what the last input printed
                    left.complete(null);
                }
            } catch (IOException | ExecutionException | TimeoutException e) {
                left.complete(null);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        // The agent ends idle sessions (console.idle_timeout) and exec sessions when the command does; a ping every
        // PING proves it is still there, and an agent that stops answering them ends the wait.
        CompletableFuture<Object> either = CompletableFuture.anyOf(closed, left);
        while (!either.isDone()) {
            try {
                either.get(PING.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (System.nanoTime() - lastPongNanos > PING.multipliedBy(3).toNanos()) {
                    closeReason = "the agent stopped answering (no pong for " + PING.multipliedBy(3).toSeconds() + " s)";
                    ws.abort();
                    reader.interrupt();
                    return;
                }
                ws.sendPing(ByteBuffer.wrap(new byte[] {'b'}));
            } catch (ExecutionException e) {
                break;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (!closed.isDone()) {
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "the user left");
            try {
                closed.get(CLOSE_GRACE.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException | TimeoutException e) {
                ws.abort();
            }
        }
        reader.interrupt();
    }

    /** Sends the terminal's size. */
    static void resize(WebSocket ws, int columns, int rows) {
        ws.sendText("{\"type\":\"resize\",\"columns\":" + columns + ",\"rows\":" + rows + "}", true);
    }

    /** Whether our stdout closed under us (a pipe's reader left). */
    boolean outputBroken() {
        return outputBroken;
    }

    Integer exitCode() {
        return exitCode;
    }

    int closeCode() {
        return closeCode;
    }

    String closeReason() {
        return closeReason;
    }

    /** Whether the agent ended the session abnormally (not 1000 normal closure, nor 1001 idle). */
    boolean failed() {
        return closeCode != WebSocket.NORMAL_CLOSURE && closeCode != 1001;
    }

    static void note(PrintStream err, boolean raw, String message) {
        err.print((raw ? "\r\n" : "") + "berth: " + message + (raw ? "\r\n" : "\n"));
        err.flush();
    }

    private static int indexOf(byte[] buf, int n, int b) {
        for (int i = 0; i < n; i++) {
            if (buf[i] == b) {
                return i;
            }
        }
        return -1;
    }
}
