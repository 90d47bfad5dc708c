package org.berth.agent.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.agent.TestAgent;
import org.berth.agent.bench.InstanceListBench.Load;
import org.berth.agent.tls.TestCerts;
import org.berth.ovs.link.Commands;

/**
 * What TLS costs the API, in one run: two real agents in this JVM on 127.0.0.1 with {@value #INSTANCES} instance
 * records each (fake driver, as {@link InstanceListBench}), one over HTTPS (an EC P-256 certificate from a CA made
 * with openssl, the JDK provider) and one over plain HTTP. Measured with {@code wrk}: {@code GET /v1/instances}
 * with keep-alive, and {@code GET /healthz} with {@code Connection: close} (a new TCP connection, and over HTTPS a
 * full handshake, per request); then {@code openssl s_time -new} (one handshake after another, TLS 1.3 and 1.2).
 * All of it {@code rounds} times, HTTPS and HTTP alternating (which goes first alternates too, so that a change of
 * the machine's load does not favour one side); prints each round and the medians with the HTTPS/HTTP ratios.
 *
 * <p>Usage: {@code TlsBench [seconds] [connections] [rounds]} (defaults 10, 32, 3).
 */
public final class TlsBench {
    static final int INSTANCES = 200;
    private static final java.util.logging.Logger QUIET = java.util.logging.Logger.getLogger("org.berth");
    /**
     * s_time's second summary line, e.g. {@code 921 connections in 3 real seconds, 0 bytes read per connection}
     * (OpenSSL 3.0); its first, {@code 921 connections in 0.88s; 1046.59 connections/user sec}, counts the client's
     * CPU time only, which leaves out the server's work and every wait.
     */
    private static final Pattern CONNECTIONS = Pattern.compile("(\\d+) connections in (\\d+) real seconds");

    private TlsBench() {
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int connections = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        if (seconds < 1 || seconds > 600 || connections < 1 || connections > 1000 || rounds < 1 || rounds > 20) {
            throw new IllegalArgumentException("seconds must be 1..600, connections 1..1000 and rounds 1..20");
        }
        QUIET.setLevel(java.util.logging.Level.WARNING);
        Path certDir = Files.createTempDirectory("berth-tls-bench");
        try {
            TestCerts certs = new TestCerts(certDir);
            TestCerts.Pair ca = certs.ca("bench-ca");
            TestCerts.Pair server = certs.server(ca, "bench-agent", "127.0.0.1");
            String fake = "drivers: {fake: {options: {vcpus: 1000, memory_mb: 1000000}}}\n";
            try (TestAgent https = new TestAgent(fake + "tls: {cert_file: " + server.cert() + ", key_file: "
                    + server.key() + "}\n", TestCerts.trusting(ca.cert())); TestAgent http = new TestAgent(fake)) {
                for (int i = 0; i < INSTANCES; i++) {
                    https.spawnAndWait("bench-" + i);
                    http.spawnAndWait("bench-" + i);
                }
                run(https, http, seconds, connections, rounds);
            }
        } finally {
            try (var walk = Files.walk(certDir)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void run(TestAgent https, TestAgent http, int seconds, int connections, int rounds) throws Exception {
        String tlsBase = "https://127.0.0.1:" + https.agent.port();
        String plainBase = "http://127.0.0.1:" + http.agent.port();
        Path tlsLua = lua(https, false);
        Path plainLua = lua(http, false);
        Path tlsClose = lua(https, true);
        Path plainClose = lua(http, true);
        // warm-up: JIT of both paths, TLS session machinery
        InstanceListBench.wrk(tlsLua, tlsBase + "/v1/instances", Math.min(3, seconds), connections);
        InstanceListBench.wrk(plainLua, plainBase + "/v1/instances", Math.min(3, seconds), connections);
        InstanceListBench.wrk(tlsClose, tlsBase + "/healthz", Math.min(3, seconds), connections);
        System.out.printf(Locale.ROOT, "wrk -t2 -c%d -d%ds --latency, loopback, %d instances, %d rounds%n",
                connections, seconds, INSTANCES, rounds);
        List<Load> tlsList = new java.util.ArrayList<>();
        List<Load> plainList = new java.util.ArrayList<>();
        List<Load> tlsNew = new java.util.ArrayList<>();
        List<Load> plainNew = new java.util.ArrayList<>();
        List<Double> v13 = new java.util.ArrayList<>();
        List<Double> v12 = new java.util.ArrayList<>();
        for (int round = 1; round <= rounds; round++) {
            String load = InstanceListBench.loadAverage();
            boolean tlsFirst = round % 2 == 1;
            for (boolean tls : tlsFirst ? new boolean[] {true, false} : new boolean[] {false, true}) {
                (tls ? tlsList : plainList).add(InstanceListBench.wrk(tls ? tlsLua : plainLua,
                        (tls ? tlsBase : plainBase) + "/v1/instances", seconds, connections));
            }
            for (boolean tls : tlsFirst ? new boolean[] {true, false} : new boolean[] {false, true}) {
                (tls ? tlsNew : plainNew).add(InstanceListBench.wrk(tls ? tlsClose : plainClose,
                        (tls ? tlsBase : plainBase) + "/healthz", seconds, connections));
            }
            v13.add(sTime(https.agent.port(), "-tls1_3", seconds));
            v12.add(sTime(https.agent.port(), "-tls1_2", seconds));
            System.out.printf(Locale.ROOT, "round %d (%s first; load average before: %s)%n", round,
                    tlsFirst ? "HTTPS" : "HTTP", load);
            print("GET /v1/instances keep-alive", tlsList.getLast(), plainList.getLast());
            print("GET /healthz Connection: close", tlsNew.getLast(), plainNew.getLast());
            System.out.printf(Locale.ROOT, "  openssl s_time -new: TLS 1.3 %.0f, TLS 1.2 %.0f handshakes/s "
                    + "(one after another)%n", v13.getLast(), v12.getLast());
        }
        System.out.printf(Locale.ROOT, "medians of %d rounds (load average after: %s)%n", rounds,
                InstanceListBench.loadAverage());
        print("GET /v1/instances keep-alive", medianLoad(tlsList), medianLoad(plainList));
        print("GET /healthz Connection: close", medianLoad(tlsNew), medianLoad(plainNew));
        System.out.printf(Locale.ROOT, "  openssl s_time -new: TLS 1.3 %.0f, TLS 1.2 %.0f handshakes/s%n",
                median(v13), median(v12));
    }

    /** Each figure's median on its own (req/s, p50, p99). */
    private static Load medianLoad(List<Load> loads) {
        return new Load(loads.getFirst().path(), median(loads.stream().map(Load::requestsPerSecond).toList()),
                median(loads.stream().map(Load::p50Ms).toList()), median(loads.stream().map(Load::p99Ms).toList()),
                loads.stream().mapToLong(Load::requests).sum());
    }

    static double median(List<Double> values) {
        List<Double> sorted = values.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static void print(String what, Load tls, Load plain) {
        System.out.printf(Locale.ROOT, "  %-32s HTTPS %9.0f req/s p50 %6.2f ms p99 %6.2f ms | HTTP %9.0f req/s p50 "
                + "%6.2f ms p99 %6.2f ms | ratio req/s %.3f p99 %.2f%n", what, tls.requestsPerSecond(), tls.p50Ms(),
                tls.p99Ms(), plain.requestsPerSecond(), plain.p50Ms(), plain.p99Ms(),
                tls.requestsPerSecond() / plain.requestsPerSecond(), tls.p99Ms() / plain.p99Ms());
    }

    /** The token from the token file (never on a command line); {@code close}: a new connection per request. */
    private static Path lua(TestAgent agent, boolean close) throws Exception {
        Path lua = agent.dir.resolve(close ? "wrk-close.lua" : "wrk-auth.lua");
        Files.writeString(lua, """
                local f = assert(io.open("%s", "r"))
                local token = f:read("*l")
                f:close()
                wrk.headers["Authorization"] = "Bearer " .. token
                %s
                """.formatted(agent.agent.tokenFile().toAbsolutePath(),
                close ? "wrk.headers[\"Connection\"] = \"close\"" : ""));
        return lua;
    }

    private static double sTime(int port, String version, int seconds) {
        String out = new Commands(Duration.ofSeconds(seconds + 30L)).run(List.of("openssl", "s_time", "-connect",
                "127.0.0.1:" + port, "-new", version, "-time", Integer.toString(seconds)));
        return perRealSecond(out);
    }

    /**
     * Handshakes per wall-clock second from s_time's output: its connections over its real seconds (whole seconds,
     * as s_time counts them: over {@code -time 10} the rounding is within 10 %).
     */
    static double perRealSecond(String out) {
        Matcher m = CONNECTIONS.matcher(out);
        if (!m.find() || Integer.parseInt(m.group(2)) == 0) {
            throw new IllegalStateException("cannot read openssl s_time's output:\n" + out);
        }
        return Integer.parseInt(m.group(1)) / Double.parseDouble(m.group(2));
    }
}
