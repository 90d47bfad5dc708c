package org.berth.agent.placement;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;

/**
 * A loopback HTTP proxy in front of a real Placement that can answer instead of it, the way a broken load balancer
 * or a dying service does: an HTML error page, a JSON 500, a reset connection, no answer for a long time; or run
 * something just before passing a request on (to make a real race). Records every request it saw.
 */
final class FaultyProxy implements AutoCloseable {
    enum Fault { PASS, HTML_502, JSON_500, RESET, SLOW }

    /** What to do with one request ("METHOD /path?query"); {@code before} runs ahead of passing it on. */
    record Rule(Fault fault, Runnable before) {
        static Rule of(Fault f) {
            return new Rule(f, null);
        }
    }

    /** A request seen and what it got (the status, or -1 when the proxy reset or stalled it). */
    record Seen(String request, int status) {
    }

    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final URI target;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
            .version(HttpClient.Version.HTTP_1_1).build();
    final List<Seen> seen = new CopyOnWriteArrayList<>();
    volatile Function<String, Rule> rules = r -> Rule.of(Fault.PASS);

    FaultyProxy(URI target) throws IOException {
        this.target = target;
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.setExecutor(pool);
        server.createContext("/", this::handle);
        server.start();
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    long count(java.util.function.Predicate<Seen> p) {
        return seen.stream().filter(p).count();
    }

    private void handle(HttpExchange x) throws IOException {
        String request = x.getRequestMethod() + " " + x.getRequestURI();
        Rule rule = rules.apply(request);
        byte[] body = x.getRequestBody().readAllBytes();
        switch (rule.fault()) {
            case HTML_502 -> answer(x, request, 502, "text/html", "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>");
            case JSON_500 -> answer(x, request, 500, "application/json", "{\"errors\": [{\"status\": 500, \"title\": \"boom\"}]}");
            case RESET -> {
                seen.add(new Seen(request, -1));
                x.close(); // no status line: the client sees the connection end
            }
            case SLOW -> {
                seen.add(new Seen(request, -1));
                try {
                    Thread.sleep(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                x.close();
            }
            case PASS -> {
                if (rule.before() != null) {
                    rule.before().run();
                }
                pass(x, request, body);
            }
        }
    }

    private void pass(HttpExchange x, String request, byte[] body) throws IOException {
        HttpRequest.Builder b = HttpRequest.newBuilder(target.resolve(x.getRequestURI().toString()))
                .timeout(Duration.ofSeconds(20))
                .method(x.getRequestMethod(), body.length == 0 ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        for (String h : List.of("X-Auth-Token", "OpenStack-API-Version", "Accept", "Content-Type")) {
            String v = x.getRequestHeaders().getFirst(h);
            if (v != null) {
                b.header(h, v);
            }
        }
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            answer(x, request, r.statusCode(), r.headers().firstValue("Content-Type").orElse("application/json"), r.body());
        } catch (IOException e) {
            answer(x, request, 599, "text/plain", "proxy: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            x.close();
        }
    }

    private void answer(HttpExchange x, String request, int status, String type, String text) throws IOException {
        seen.add(new Seen(request, status));
        byte[] out = text.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", type);
        x.sendResponseHeaders(status, out.length == 0 ? -1 : out.length);
        if (out.length > 0) {
            try (OutputStream o = x.getResponseBody()) {
                o.write(out);
            }
        }
        x.close();
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
