package org.berth.agent.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.berth.lab.Cmd;
import org.berth.lab.Lab;

/**
 * A real Prometheus started by {@code scripts/prometheus.sh} in {@code /var/tmp/berth-prometheus-*} on a free
 * loopback port, scraping one agent's {@code /metrics} with the agent's bearer token. {@link #query} is the tests'
 * oracle: PromQL over what Prometheus itself scraped. Close it: it stops the server and removes its directory.
 */
final class PrometheusServer implements AutoCloseable {
    private static final Duration SCRIPT_TIMEOUT = Duration.ofSeconds(90);
    private static final ObjectMapper JSON = new ObjectMapper();

    final Path dir;
    final URI url;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private PrometheusServer(Path dir, URI url) {
        this.dir = dir;
        this.url = url;
    }

    /** Starts a Prometheus scraping {@code agent} (its port and token) every 2 s. */
    static PrometheusServer scraping(AgentProcess agent) throws IOException {
        Path dir = Files.createTempDirectory(Path.of("/var/tmp"), "berth-prometheus-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            Path token = dir.resolve("agent-token");
            Files.writeString(token, agent.token());
            Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            String url = script("start", dir.resolve("server").toString(), Integer.toString(port),
                    "127.0.0.1:" + agent.port(), token.toString());
            Files.delete(token);
            return new PrometheusServer(dir, URI.create(url.lines().reduce((a, b) -> b).orElseThrow()));
        } catch (IOException | RuntimeException e) {
            stopAndDelete(dir);
            throw e;
        }
    }

    /**
     * The instant vector of {@code promql} now, as series labels (joined) → value; empty when nothing matched.
     * Fails on a PromQL error.
     */
    Map<String, Double> query(String promql) throws IOException, InterruptedException {
        URI q = URI.create(url + "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(q).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        JsonNode body = JSON.readTree(r.body());
        if (r.statusCode() != 200 || !"success".equals(body.path("status").asText())) {
            throw new IllegalStateException("Prometheus answered " + r.statusCode() + " to " + promql + ": " + r.body());
        }
        Map<String, Double> out = new LinkedHashMap<>();
        for (JsonNode series : body.path("data").path("result")) {
            out.put(series.path("metric").toString(), Double.parseDouble(series.path("value").path(1).asText()));
        }
        return out;
    }

    /** The health of the agent's scrape target as Prometheus last saw it ({@code up}, {@code lastError}). */
    String targetHealth() throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/api/v1/targets"))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        JsonNode t = JSON.readTree(r.body()).path("data").path("activeTargets").path(0);
        return t.path("health").asText() + " " + t.path("lastError").asText();
    }

    @Override
    public void close() {
        stopAndDelete(dir);
    }

    private static void stopAndDelete(Path dir) {
        try {
            script("stop", dir.resolve("server").toString());
        } finally {
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete " + dir, e);
            }
        }
    }

    private static String script(String... args) {
        List<String> argv = new ArrayList<>();
        argv.add(Lab.repoRoot().resolve("scripts/prometheus.sh").toString());
        argv.addAll(List.of(args));
        Cmd.Result r = Cmd.run(SCRIPT_TIMEOUT, argv);
        if (!r.ok()) {
            throw new IllegalStateException("prometheus.sh " + args[0] + " failed (" + r.exit() + "): "
                    + (r.stdout() + r.stderr()).strip());
        }
        return r.stdout().strip();
    }
}
