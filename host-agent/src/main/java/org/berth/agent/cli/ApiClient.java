package org.berth.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The agent's REST API over java.net.http, every call bounded by a timeout; errors become {@link CliException}s.
 * Public for {@code berth cloud} (org.berth.agent.cloud.AgentCalls), which talks to several agents.
 */
public final class ApiClient {
    public static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Upload time allowed per MiB on top of the request timeout (a slow disk on either side). */
    private static final Duration PER_MIB = Duration.ofMillis(200);

    private final String base;
    private final String token;
    private final Duration timeout;
    private final ClientTls tls;
    private final HttpClient http;

    /** {@code tls}: the CA and client certificate for an https:// {@code base} (unused with http://). */
    public ApiClient(String base, String token, Duration timeout, ClientTls tls) {
        this.base = base.replaceAll("/+$", "");
        this.token = token;
        this.timeout = timeout;
        this.tls = tls;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).version(HttpClient.Version.HTTP_1_1);
        if (this.base.startsWith("https://")) {
            // java.net.http checks the agent's name against its certificate's SANs (HTTPS endpoint identification)
            b.sslContext(tls.context()).sslParameters(ClientTls.parameters());
        }
        this.http = b.build();
    }

    public JsonNode get(String path) {
        return json(send(request(path).GET(), timeout));
    }

    public JsonNode delete(String path) {
        return json(send(request(path).DELETE(), timeout));
    }

    public JsonNode post(String path, JsonNode body) {
        return json(send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())), timeout));
    }

    public JsonNode put(String path, JsonNode body) {
        return json(send(request(path).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(body.toString())), timeout));
    }

    public String text(String path) {
        return send(request(path).GET(), timeout).body();
    }

    /** Streams the file as the body (never all in memory); the agent checks the SHA-256 before registering it. */
    public JsonNode upload(Path file, long size, Map<String, String> query) {
        HttpRequest.BodyPublisher body;
        try {
            body = HttpRequest.BodyPublishers.ofFile(file);
        } catch (java.io.FileNotFoundException e) {
            throw new IllegalArgumentException("file: '" + file + "' cannot be read");
        }
        Duration t = timeout.plus(PER_MIB.multipliedBy(Math.max(1, size >> 20)));
        return json(send(request("/v1/images?" + query(query)).header("Content-Type", "application/octet-stream")
                .expectContinue(true).POST(body), t));
    }

    /**
     * Streams {@code size} bytes from {@code body} as an image upload (never all in memory): {@code berth cloud}
     * carries a migration's image from one agent's download straight into another's upload. Bounded as
     * {@link #upload(Path, long, Map)}.
     */
    public JsonNode upload(java.util.function.Supplier<InputStream> body, long size, Map<String, String> query) {
        Duration t = timeout.plus(PER_MIB.multipliedBy(Math.max(1, size >> 20)));
        return json(send(request("/v1/images?" + query(query)).header("Content-Type", "application/octet-stream")
                .expectContinue(true).POST(HttpRequest.BodyPublishers.fromPublisher(
                        HttpRequest.BodyPublishers.ofInputStream(body), size)), t));
    }

    /** GET returning the body as a stream (Server-Sent Events); the caller closes it. */
    public InputStream stream(String path) {
        HttpResponse<InputStream> r = exchange(request(path).timeout(timeout).GET().build(),
                HttpResponse.BodyHandlers.ofInputStream());
        if (r.statusCode() >= 400) {
            try (InputStream in = r.body()) {
                throw failure(r.statusCode(), new String(in.readNBytes(64 * 1024), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw unreachable(e);
            }
        }
        return r.body();
    }

    /**
     * Opens a WebSocket on {@code path} with the bearer token, within the request timeout; a refusal before the
     * upgrade (401, 404, 409…) becomes the usual {@link CliException.ApiAnswered}.
     */
    public java.net.http.WebSocket webSocket(String path, java.net.http.WebSocket.Listener listener) {
        URI uri = URI.create(base.replaceFirst("^http", "ws") + path);
        var future = http.newWebSocketBuilder().header("Authorization", "Bearer " + token).connectTimeout(timeout)
                .buildAsync(uri, listener);
        try {
            return future.get(timeout.toMillis() + CONNECT_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof java.net.http.WebSocketHandshakeException h) {
                Object body = h.getResponse().body();
                String text = body instanceof byte[] b ? new String(b, StandardCharsets.UTF_8)
                        : body == null ? "" : body.toString();
                throw failure(h.getResponse().statusCode(), text);
            }
            Throwable c = e.getCause();
            throw unreachable(c instanceof IOException io ? io : new IOException(String.valueOf(c), c));
        } catch (java.util.concurrent.TimeoutException e) {
            future.cancel(true);
            throw new CliException.Unreachable(base, "no WebSocket answer within " + timeout.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException.Unreachable(base, "interrupted");
        }
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + token)
                .header("Accept", "application/json");
    }

    private HttpResponse<String> send(HttpRequest.Builder b, Duration t) {
        HttpResponse<String> r = exchange(b.timeout(t).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 400) {
            throw failure(r.statusCode(), r.body());
        }
        return r;
    }

    private <T> HttpResponse<T> exchange(HttpRequest req, HttpResponse.BodyHandler<T> handler) {
        try {
            return http.send(req, handler);
        } catch (IOException e) {
            throw unreachable(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException.Unreachable(base, "interrupted");
        }
    }

    private CliException.Unreachable unreachable(IOException e) {
        String tlsWhy = tls.explain(e, URI.create(base), CONNECT_TIMEOUT);
        String why = tlsWhy != null ? tlsWhy : e instanceof HttpTimeoutException ? "no answer within " + timeout.toSeconds() + " s"
                : e instanceof ConnectException ? "connection refused" : String.valueOf(e.getMessage());
        return new CliException.Unreachable(base, why);
    }

    private static CliException.ApiAnswered failure(int status, String body) {
        try {
            JsonNode e = JSON.readTree(body).path("error");
            if (e.isObject()) {
                return new CliException.ApiAnswered(status, e.path("field").asText("-"), e.path("rule").asText("-"),
                        e.path("message").asText(""), body);
            }
        } catch (IOException notJson) {
            // fall through: an answer from something that is not the agent
        }
        String text = body.length() > 200 ? body.substring(0, 200) + "…" : body;
        return new CliException.ApiAnswered(status, "-", "-", text.strip(), body);
    }

    private static JsonNode json(HttpResponse<String> r) {
        if (r.body().isEmpty()) {
            return JSON.createObjectNode();
        }
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new CliException.ApiAnswered(r.statusCode(), "body", "json", "the agent's answer is not JSON", r.body());
        }
    }

    public static String query(Map<String, String> params) {
        return params.entrySet().stream()
                .map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
    }

    public static String segment(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
