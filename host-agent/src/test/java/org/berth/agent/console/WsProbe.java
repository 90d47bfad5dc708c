package org.berth.agent.console;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** A test's WebSocket client: keeps every byte and text message the agent sends, and how the session closed. */
final class WsProbe implements WebSocket.Listener {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final List<String> texts = new CopyOnWriteArrayList<>();
    final CompletableFuture<Integer> closed = new CompletableFuture<>();
    volatile String closeReason = "";
    private final StringBuilder text = new StringBuilder();
    WebSocket ws;

    /** Opens {@code path} on 127.0.0.1:port with these headers; the status of a refused upgrade is thrown as such. */
    static WsProbe open(int port, String path, Map<String, String> headers) throws Exception {
        WsProbe p = new WsProbe();
        var b = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10));
        headers.forEach(b::header);
        try {
            p.ws = b.buildAsync(URI.create("ws://127.0.0.1:" + port + path), p).get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof WebSocketHandshakeException h) {
                Object body = h.getResponse().body();
                throw new Refused(h.getResponse().statusCode(),
                        body instanceof byte[] raw ? new String(raw, StandardCharsets.UTF_8) : String.valueOf(body));
            }
            throw e;
        }
        return p;
    }

    /** An upgrade answered with an HTTP status instead. */
    static final class Refused extends Exception {
        final int status;
        final String body;

        Refused(int status, String body) {
            super(status + " " + body);
            this.status = status;
            this.body = body;
        }
    }

    @Override
    public void onOpen(WebSocket ws) {
        ws.request(Long.MAX_VALUE);
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
        byte[] b = new byte[data.remaining()];
        data.get(b);
        synchronized (bytes) {
            bytes.writeBytes(b);
        }
        return null;
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
        text.append(data);
        if (last) {
            texts.add(text.toString());
            text.setLength(0);
        }
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
        closeReason = reason;
        closed.complete(statusCode);
        return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
        closed.completeExceptionally(error);
    }

    byte[] received() {
        synchronized (bytes) {
            return bytes.toByteArray();
        }
    }

    String receivedText() {
        return new String(received(), StandardCharsets.UTF_8);
    }

    void send(String s) throws Exception {
        ws.sendBinary(ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8)), true).get(10, TimeUnit.SECONDS);
    }

    void control(String json) throws Exception {
        ws.sendText(json, true).get(10, TimeUnit.SECONDS);
    }

    int awaitClose(Duration limit) throws Exception {
        return closed.get(limit.toMillis(), TimeUnit.MILLISECONDS);
    }

    static void await(String what, Duration limit, BooleanSupplier cond) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + limit.toMillis() + " ms waiting for " + what);
            }
            Thread.sleep(10);
        }
    }
}
