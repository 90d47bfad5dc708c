package org.berth.agent.placement;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The HTTP layer: Placement's headers on every request (token, microversion 1.39, JSON), a bound on every call,
 * and every answer classified: JSON 2xx, {@link PlacementException.Refused} (a 4xx with Placement's error body),
 * {@link PlacementException.BadAnswer} (5xx, HTML, broken JSON) or {@link PlacementException.Unreachable}.
 * Thread-safe. Counts reads (GET) and writes (the rest) for {@code /metrics} and the benchmarks.
 */
public final class PlacementClient {
    static final String MICROVERSION = "placement 1.39";
    static final ObjectMapper JSON = new ObjectMapper();
    private static final int SNIPPET = 160;

    private final URI base;
    private final String token;
    private final Duration timeout;
    private final HttpClient http;
    private final AtomicLong reads = new AtomicLong();
    private final AtomicLong writes = new AtomicLong();

    /** Tries a request this many times when Placement answers 5xx (1: never again; the agent's reporter backs off). */
    private final int serverErrorAttempts;

    public PlacementClient(URI base, String token, Duration timeout) {
        this(base, token, timeout, 1);
    }

    /**
     * A client that sends a request again, up to {@code serverErrorAttempts} times 200 ms × attempt apart, when
     * Placement answers 5xx: Placement on SQLite behind several workers answers 500 "database is locked" when
     * writers meet (the agents' reports and concurrent CLIs), and that transaction was rolled back.
     */
    public PlacementClient(URI base, String token, Duration timeout, int serverErrorAttempts) {
        if (serverErrorAttempts < 1) {
            throw new IllegalArgumentException("serverErrorAttempts: must be at least 1");
        }
        this.serverErrorAttempts = serverErrorAttempts;
        this.base = base;
        this.token = token;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1).build();
    }

    /** An answer: its status and the JSON body (an empty object for 204). */
    public record Answer(int status, JsonNode body) {
    }

    public Answer get(String path) {
        return send("GET", path, null);
    }

    public Answer put(String path, JsonNode body) {
        return send("PUT", path, body);
    }

    public Answer post(String path, JsonNode body) {
        return send("POST", path, body);
    }

    public Answer delete(String path) {
        return send("DELETE", path, null);
    }

    public long reads() {
        return reads.get();
    }

    public long writes() {
        return writes.get();
    }

    /**
     * Sends one request. A 404 is returned as an answer (callers decide what a missing thing means); every other
     * non-2xx raises.
     */
    public Answer send(String method, String path, JsonNode body) {
        for (int attempt = 1; ; attempt++) {
            try {
                return sendOnce(method, path, body);
            } catch (PlacementException.BadAnswer e) {
                if (e.status() < 500 || attempt >= serverErrorAttempts) {
                    throw e;
                }
            }
            try {
                Thread.sleep(200L * attempt);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new PlacementException.Unreachable(method + " " + path, "interrupted", e);
            }
        }
    }

    private Answer sendOnce(String method, String path, JsonNode body) {
        String what = method + " " + path;
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(base.getRawPath() + path)).timeout(timeout)
                .header("X-Auth-Token", token).header("OpenStack-API-Version", MICROVERSION)
                .header("Accept", "application/json");
        if (body != null) {
            b.header("Content-Type", "application/json");
            b.method(method, HttpRequest.BodyPublishers.ofString(body.toString()));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        (method.equals("GET") ? reads : writes).incrementAndGet();
        HttpResponse<String> r;
        // HttpRequest.timeout ends at the response headers (JDK-8258397): a body that stalls after them would block
        // the reporter for ever, so the whole exchange is bounded too, by twice the timeout
        long wholeMs = 2 * timeout.toMillis();
        CompletableFuture<HttpResponse<String>> f = http.sendAsync(b.build(), HttpResponse.BodyHandlers.ofString());
        try {
            r = f.get(wholeMs, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new PlacementException.Unreachable(what, "no whole answer within " + wholeMs + " ms", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof HttpTimeoutException) {
                throw new PlacementException.Unreachable(what, "no answer within " + timeout.toMillis() + " ms", c);
            }
            throw new PlacementException.Unreachable(what, "cannot reach " + base + ": " + c, c);
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new PlacementException.Unreachable(what, "interrupted", e);
        }
        return classify(what, r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
    }

    static Answer classify(String what, int status, String contentType, String text) {
        boolean json = contentType.toLowerCase(Locale.ROOT).startsWith("application/json");
        if (status == 204 || (status < 300 && status >= 200 && text.isBlank())) {
            return new Answer(status, JSON.createObjectNode());
        }
        if (status >= 500 || !json) {
            throw new PlacementException.BadAnswer(what, status, "answered " + status + " with "
                    + (contentType.isEmpty() ? "no Content-Type" : contentType) + ": " + snippet(text));
        }
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new PlacementException.BadAnswer(what, status, "answered " + status + " with broken JSON ("
                    + e.getOriginalMessage() + "): " + snippet(text));
        }
        if (node == null || !node.isObject()) {
            throw new PlacementException.BadAnswer(what, status, "answered " + status + " with JSON that is not "
                    + "an object: " + snippet(text));
        }
        if (status < 300 || status == 404) {
            return new Answer(status, node);
        }
        JsonNode err = node.path("errors").path(0);
        if (err.isMissingNode()) {
            throw new PlacementException.BadAnswer(what, status, "answered " + status + " without an errors list: "
                    + snippet(text));
        }
        throw new PlacementException.Refused(what, status, err.path("code").asText("placement.undefined_code"),
                err.path("detail").asText(err.path("title").asText("")).strip());
    }

    static String snippet(String text) {
        String one = text.replaceAll("\\s+", " ").strip();
        return one.length() > SNIPPET ? one.substring(0, SNIPPET) + "…" : one;
    }

    /** Releases the HTTP client's selector thread. */
    void close() {
        http.shutdownNow();
    }

    @Override
    public String toString() {
        return "PlacementClient[" + base + "]";
    }
}
