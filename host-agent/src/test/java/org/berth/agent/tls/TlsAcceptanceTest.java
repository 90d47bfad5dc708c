package org.berth.agent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.berth.agent.TestAgent;
import org.berth.ovs.link.Commands;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 21's acceptance with real clients: two agent JVMs with TLS on 198.18.231.2 inside a network namespace this
 * test makes (a veth to the root namespace, 198.18.231.1 on this side), one with server TLS only ({@code :8443}), one
 * requiring client certificates ({@code :8444}); {@code curl}, {@code openssl s_client}, raw sockets and the JDK's
 * TLS client run here. Certificates come from {@code openssl} in the test's directory. The namespace, the link, the
 * processes and the directory are removed after the class, and that is checked.
 */
class TlsAcceptanceTest {
    private static final String HOST_IP = "198.18.231.1";
    private static final String AGENT_IP = "198.18.231.2";
    private static final Commands SH = new Commands(Duration.ofSeconds(30));
    private static final String NETNS = "berth-tls-" + ProcessHandle.current().pid();
    private static final String VETH = "btls" + ProcessHandle.current().pid() % 1_000_000;

    private static Path dir;
    private static TestCerts certs;
    private static TestCerts.Pair ca;
    private static TestCerts.Pair otherCa;
    private static TestCerts.Pair server;
    private static TestCerts.Pair client;
    private static NetnsAgent plain;
    private static NetnsAgent mutual;
    private static NetnsAgent insecure;
    /** Every token an agent had: none may appear in a log. */
    private static final Set<String> tokens = new HashSet<>();

    @BeforeAll
    static void setUp() throws Exception {
        dir = Files.createTempDirectory(Path.of("/var/tmp"), "berth-tls-");
        certs = new TestCerts(Files.createDirectories(dir.resolve("certs")));
        ca = certs.ca("berth-test-ca");
        otherCa = certs.ca("other-ca");
        server = certs.server(ca, "agent-1", AGENT_IP);
        client = certs.client(ca, "scheduler");
        Path live = Files.createDirectories(dir.resolve("live"));
        install(server, live);
        Files.copy(ca.cert(), live.resolve("client-ca.crt"));
        SH.run(List.of("ip", "netns", "add", NETNS));
        SH.run(List.of("ip", "link", "add", VETH, "type", "veth", "peer", "name", VETH + "p"));
        SH.run(List.of("ip", "link", "set", VETH + "p", "netns", NETNS));
        SH.run(List.of("ip", "addr", "add", HOST_IP + "/30", "dev", VETH));
        SH.run(List.of("ip", "link", "set", VETH, "up"));
        SH.run(List.of("ip", "-n", NETNS, "addr", "add", AGENT_IP + "/30", "dev", VETH + "p"));
        SH.run(List.of("ip", "-n", NETNS, "link", "set", VETH + "p", "up"));
        SH.run(List.of("ip", "-n", NETNS, "link", "set", "lo", "up"));
        String tls = "tls: {cert_file: %s, key_file: %s, handshake_timeout: 2s%s}\n";
        plain = NetnsAgent.launch(NETNS, dir.resolve("plain"), AGENT_IP, 8443,
                tls.formatted(live.resolve("server.crt"), live.resolve("server.key"), ""));
        mutual = NetnsAgent.launch(NETNS, dir.resolve("mutual"), AGENT_IP, 8444,
                tls.formatted(server.cert(), server.key(), ", client_ca_file: " + live.resolve("client-ca.crt")));
        insecure = NetnsAgent.launch(NETNS, dir.resolve("insecure"), AGENT_IP, 8080, "allow_insecure_http: true\n");
        plain.awaitListening();
        mutual.awaitListening();
        insecure.awaitListening();
        tokens.add(insecure.token());
        tokens.add(plain.token());
        tokens.add(mutual.token());
    }

    @AfterAll
    static void tearDown() throws Exception {
        List<String> leaks = new ArrayList<>();
        try {
            for (NetnsAgent a : new NetnsAgent[] {plain, mutual, insecure}) {
                if (a != null) {
                    String log = a.log();
                    // what an operator would read: the TLS lines of each agent
                    log.lines().filter(l -> l.contains("TLS")).forEach(l -> System.out.println(a.port + " " + l));
                    tokens.stream().filter(log::contains).findAny()
                            .ifPresent(t -> leaks.add("a token is in " + a.log));
                    a.close();
                    if (a.alive()) {
                        leaks.add("agent pid " + a.pid() + " still runs");
                    }
                }
            }
        } finally {
            SH.tryRun(List.of("ip", "netns", "del", NETNS), null);
            SH.tryRun(List.of("ip", "link", "del", VETH), null);
            if (dir != null) {
                try (Stream<Path> walk = Files.walk(dir)) {
                    walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
        if (SH.tryRun(List.of("ip", "link", "show", VETH), null).exitCode() == 0) {
            leaks.add("link " + VETH + " left");
        }
        if (SH.run(List.of("ip", "netns", "list")).contains(NETNS)) {
            leaks.add("netns " + NETNS + " left");
        }
        if (dir != null && Files.exists(dir)) {
            leaks.add(dir + " left");
        }
        assertEquals(List.of(), leaks);
    }

    /** Puts a certificate and key in place as a renewal would: written beside, then renamed over the old ones. */
    private static void install(TestCerts.Pair pair, Path live) throws IOException {
        Path crt = live.resolve("server.crt.new");
        Path key = live.resolve("server.key.new");
        Files.copy(pair.cert(), crt, StandardCopyOption.REPLACE_EXISTING);
        Files.copy(pair.key(), key, StandardCopyOption.REPLACE_EXISTING);
        Files.move(crt, live.resolve("server.crt"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Files.move(key, live.resolve("server.key"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static String url(NetnsAgent a, String path) {
        return "https://" + a.address + ":" + a.port + path;
    }

    /** What curl did: its exit code, the HTTP status (0 if none), the body and its stderr. */
    private record Curl(int exitCode, int status, String body, String stderr) {
        JsonNode json() throws IOException {
            return TestAgent.JSON.readTree(body);
        }
    }

    /** curl with the token in a 0600 header file (never on a command line). */
    private static Curl curl(NetnsAgent a, String token, String... args) throws IOException {
        Path header = dir.resolve("auth-header");
        Path body = dir.resolve("curl-body");
        Files.deleteIfExists(header);
        Files.deleteIfExists(body);
        Files.createFile(header, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(header, "Authorization: Bearer " + token + "\n");
        List<String> argv = new ArrayList<>(List.of("curl", "-sS", "--max-time", "10", "-H", "@" + header,
                "-o", body.toString(), "-w", "%{http_code}"));
        argv.addAll(List.of(args));
        Commands.Result r = SH.tryRun(argv, null);
        String out = r.stdout().strip();
        return new Curl(r.exitCode(), out.matches("\\d{3}") ? Integer.parseInt(out) : 0,
                Files.exists(body) ? Files.readString(body) : "", r.stderr());
    }

    /** Runs {@code client} and checks the agent logged exactly one handshake WARN for it, naming this side. */
    private static String oneHandshakeWarning(NetnsAgent a, IoAction client) throws Exception {
        String fragment = "TLS handshake with /" + HOST_IP + ":";
        long before = a.count(fragment);
        client.run();
        String line = a.awaitLine(fragment, before, Duration.ofSeconds(10));
        Thread.sleep(300); // a second line for the same failure would come now
        assertEquals(before + 1, a.count(fragment), a.log());
        assertTrue(line.contains("WARNING") && line.contains("connection closed"), line);
        return line;
    }

    interface IoAction {
        void run() throws Exception;
    }

    @Test
    void curlWithTheCaAndTheTokenWorksWithoutTheCaOrWithAnotherNameItFailsVerification() throws Exception {
        Curl ok = curl(plain, plain.token(), "--cacert", ca.cert().toString(), url(plain, "/v1/host"));
        assertEquals(0, ok.exitCode(), ok.stderr());
        assertEquals(200, ok.status());
        JsonNode api = ok.json().at("/host/api");
        assertTrue(api.path("tls").asBoolean(), api.toString());
        assertFalse(api.path("client_certificates_required").asBoolean(), api.toString());

        String line = oneHandshakeWarning(plain, () -> {
            Curl r = curl(plain, plain.token(), url(plain, "/v1/host"));
            assertEquals(60, r.exitCode(), r.stderr()); // peer certificate cannot be authenticated
        });
        assertTrue(line.contains("unknown_ca") || line.contains("certificate"), line);
        Curl wrongName = curl(plain, plain.token(), "--cacert", ca.cert().toString(), "--resolve",
                "wrong.example:8443:" + AGENT_IP, "https://wrong.example:8443/v1/host");
        assertEquals(60, wrongName.exitCode(), wrongName.stderr());
        assertTrue(wrongName.stderr().contains("wrong.example"), wrongName.stderr());
    }

    @Test
    void tls12WithAnAeadSuiteAndTls13AreServedTls11IsRefused() throws Exception {
        String target = AGENT_IP + ":8443";
        Commands.Result v12 = SH.tryRun(List.of("openssl", "s_client", "-connect", target, "-tls1_2", "-CAfile",
                ca.cert().toString()), "");
        assertTrue(v12.stdout().contains("New, TLSv1.2, Cipher is ECDHE-ECDSA-AES256-GCM-SHA384")
                && v12.stdout().contains("Verify return code: 0 (ok)"), v12.stdout());
        Commands.Result v13 = SH.tryRun(List.of("openssl", "s_client", "-connect", target, "-tls1_3", "-CAfile",
                ca.cert().toString()), "");
        assertTrue(v13.stdout().contains("New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"), v13.stdout());
        for (String[] old : List.of(new String[] {"-tls1_1", "TLSv1.1"}, new String[] {"-tls1", "TLSv1"})) {
            String line = oneHandshakeWarning(plain, () -> {
                // SECLEVEL=0: else OpenSSL 3 itself would not offer TLS 1.0/1.1, and the test would prove nothing
                Commands.Result r = SH.tryRun(List.of("openssl", "s_client", "-connect", target, old[0], "-cipher",
                        "DEFAULT@SECLEVEL=0", "-CAfile", ca.cert().toString()), "");
                assertNotEquals(0, r.exitCode(), r.stdout());
                assertTrue(r.stderr().contains("alert protocol version"), old[0] + ": " + r.stderr());
            });
            // "(protocol_version) Client requested protocol TLSv1.1 is not enabled …": the version refused, named
            assertTrue(line.contains("protocol_version") && java.util.regex.Pattern.compile(
                    java.util.regex.Pattern.quote(old[1]) + "(?![.0-9])").matcher(line).find(), old[0] + ": " + line);
        }
    }

    @Test
    void plainHttpToTheTlsPortGetsNothingThatLeaksAndOneWarning() throws Exception {
        String token = plain.token();
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        String line = oneHandshakeWarning(plain, () -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(AGENT_IP, 8443), 5000);
                s.setSoTimeout(5000);
                s.getOutputStream().write(("GET /v1/instances HTTP/1.1\r\nHost: " + AGENT_IP + "\r\nAuthorization: "
                        + "Bearer " + token + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                readUntilClosed(s.getInputStream(), got);
            }
        });
        String answer = got.toString(StandardCharsets.ISO_8859_1);
        assertFalse(answer.contains(token) || answer.contains("{") || answer.contains("HTTP/"), answer);
        assertTrue(line.contains("not a TLS record"), line);
        assertFalse(line.contains(token));
    }

    @Test
    void aHandshakeLeftHalfFinishedIsClosedAfterTheHandshakeTimeout() throws Exception {
        long[] elapsed = new long[1];
        String line = oneHandshakeWarning(plain, () -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(AGENT_IP, 8443), 5000);
                s.setSoTimeout(15_000);
                long t0 = System.nanoTime();
                readUntilClosed(s.getInputStream(), new ByteArrayOutputStream());
                elapsed[0] = (System.nanoTime() - t0) / 1_000_000;
            }
        });
        assertTrue(elapsed[0] >= 1500 && elapsed[0] < 6000, "closed after " + elapsed[0] + " ms (timeout 2 s)");
        assertTrue(line.contains("no complete handshake"), line);
    }

    /**
     * 50 sockets that connect and send nothing: a request still gets its answer at once, the agent starts no thread
     * for them, and each is closed at the handshake timeout (2 s). They come from a second address on the link
     * (198.18.232.1), so that their 50 handshake failures do not use up 198.18.231.1's 10 logged a minute.
     */
    @Test
    void fiftyIdleSocketsDelayNoRequestTakeNoThreadAndAreClosedAtTheHandshakeTimeout() throws Exception {
        String idleIp = "198.18.232.1";
        SH.run(List.of("ip", "addr", "add", idleIp + "/30", "dev", VETH));
        SH.run(List.of("ip", "-n", NETNS, "addr", "add", "198.18.232.2/30", "dev", VETH + "p"));
        List<Socket> idle = new ArrayList<>();
        try {
            Curl warm = curl(plain, plain.token(), "--cacert", ca.cert().toString(), url(plain, "/v1/host"));
            assertEquals(200, warm.status(), warm.stderr());
            long threads = threads(plain);
            long opened = System.nanoTime();
            for (int i = 0; i < 50; i++) {
                Socket s = new Socket();
                s.bind(new InetSocketAddress(idleIp, 0));
                s.connect(new InetSocketAddress(AGENT_IP, 8443), 5000);
                idle.add(s);
            }
            long t0 = System.nanoTime();
            Curl ok = curl(plain, plain.token(), "--cacert", ca.cert().toString(), url(plain, "/v1/host"));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(200, ok.status(), ok.stderr());
            assertTrue(ms < 1000, "the request took " + ms + " ms with 50 idle sockets open");
            long during = threads(plain);
            assertTrue(during <= threads + 3, "agent threads " + threads + " before, " + during + " with 50 idle sockets");
            for (Socket s : idle) {
                s.setSoTimeout(8000);
                readUntilClosed(s.getInputStream(), new ByteArrayOutputStream());
            }
            long closedMs = (System.nanoTime() - opened) / 1_000_000;
            assertTrue(closedMs >= 1500 && closedMs < 6000, "all 50 closed after " + closedMs + " ms (timeout 2 s)");
        } finally {
            for (Socket s : idle) {
                s.close();
            }
            SH.tryRun(List.of("ip", "-n", NETNS, "addr", "del", "198.18.232.2/30", "dev", VETH + "p"), null);
            SH.tryRun(List.of("ip", "addr", "del", idleIp + "/30", "dev", VETH), null);
        }
    }

    /** The agent JVM's thread count (/proc/PID/status). */
    private static long threads(NetnsAgent a) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + a.pid() + "/status")).stream()
                .filter(l -> l.startsWith("Threads:")).mapToLong(l -> Long.parseLong(l.substring(8).trim()))
                .findFirst().orElseThrow();
    }

    @Test
    void clientCertificatesAreRequiredAndCheckedAgainstTheConfiguredCa() throws Exception {
        String cacert = ca.cert().toString();
        Curl ok = curl(mutual, mutual.token(), "--cacert", cacert, "--cert", client.cert().toString(),
                "--key", client.key().toString(), url(mutual, "/v1/host"));
        assertEquals(0, ok.exitCode(), ok.stderr());
        assertEquals(200, ok.status());
        assertTrue(ok.json().at("/host/api/client_certificates_required").asBoolean());
        // the certificate does not replace the token
        Curl noToken = curl(mutual, "not-the-token", "--cacert", cacert, "--cert",
                client.cert().toString(), "--key", client.key().toString(), url(mutual, "/v1/host"));
        assertEquals(401, noToken.status());

        String line = refusedByMutual(null);
        assertTrue(line.contains("Empty client certificate chain"), line);
        line = refusedByMutual(certs.client(otherCa, "stranger"));
        assertTrue(line.contains("unable to find valid certification path"), line);
        line = refusedByMutual(certs.clientValidBetween(ca, "expired", "20200101000000Z", "20200102000000Z"));
        assertTrue(line.contains("validity check failed (NotAfter: "), line);
        line = refusedByMutual(certs.clientValidBetween(ca, "not-yet", "20990101000000Z", "20990102000000Z"));
        assertTrue(line.contains("validity check failed (NotBefore: "), line);
    }

    /** A request to the mTLS agent with {@code cert} (null: none) fails, gets no answer, and the agent logs why. */
    private static String refusedByMutual(TestCerts.Pair cert) throws Exception {
        return oneHandshakeWarning(mutual, () -> {
            List<String> args = new ArrayList<>(List.of("--cacert", ca.cert().toString()));
            if (cert != null) {
                args.addAll(List.of("--cert", cert.cert().toString(), "--key", cert.key().toString()));
            }
            args.add(url(mutual, "/v1/host"));
            Curl r = curl(mutual, mutual.token(), args.toArray(String[]::new));
            assertNotEquals(0, r.exitCode(), r.body());
            assertFalse(r.body().contains("\"host\""), r.body());
        });
    }

    @Test
    void reloadOnSighupAndOnFileChangeKeepsOpenConnectionsAndABrokenFileKeepsTheOldCertificate() throws Exception {
        Path live = dir.resolve("live");
        install(server, live); // this test's start, whatever ran before
        long first = plain.count("TLS reloaded (SIGHUP)");
        plain.sighup();
        plain.awaitLine("TLS reloaded (SIGHUP)", first, Duration.ofSeconds(10)); // or the count below would race it
        try (KeepAlive old = new KeepAlive(plain)) {
            assertEquals(server.serial(), old.serial);
            assertEquals(200, old.get("/v1/host"));

            TestCerts.Pair second = certs.server(ca, "agent-1-renewed", AGENT_IP);
            long reloads = plain.count("TLS reloaded (SIGHUP)");
            install(second, live);
            plain.sighup();
            String line = plain.awaitLine("TLS reloaded (SIGHUP)", reloads, Duration.ofSeconds(10));
            assertTrue(line.contains("CN=agent-1-renewed serial " + second.serial().toString(16)), line);
            assertTrue(line.contains("valid until"), line);
            try (KeepAlive fresh = new KeepAlive(plain)) {
                assertEquals(second.serial(), fresh.serial);
                assertEquals(200, fresh.get("/v1/host"));
            }
            assertEquals(200, old.get("/v1/host"));
            assertTrue(plain.alive(), "SIGHUP must not stop the agent");

            TestCerts.Pair third = certs.server(ca, "agent-1-third", AGENT_IP);
            reloads = plain.count("TLS reloaded (files changed)");
            install(third, live);
            plain.awaitLine("TLS reloaded (files changed)", reloads, Duration.ofSeconds(10));
            try (KeepAlive fresh = new KeepAlive(plain)) {
                assertEquals(third.serial(), fresh.serial);
            }
            assertEquals(200, old.get("/v1/host"));

            long failures = plain.count("TLS reload (files changed) failed");
            Path broken = live.resolve("server.crt.new");
            Files.writeString(broken, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
            Files.move(broken, live.resolve("server.crt"), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
            line = plain.awaitLine("TLS reload (files changed) failed", failures, Duration.ofSeconds(10));
            assertTrue(line.contains("SEVERE") && line.contains("tls.cert_file") && line.contains("server.crt"), line);
            try (KeepAlive fresh = new KeepAlive(plain)) {
                assertEquals(third.serial(), fresh.serial);
            }
            assertEquals(200, old.get("/v1/host"));
        } finally {
            install(server, live);
            plain.sighup();
        }
    }

    @Test
    void aNewClientCaFileIsReadOnSighup() throws Exception {
        Path file = dir.resolve("live").resolve("client-ca.crt");
        TestCerts.Pair stranger = certs.client(otherCa, "stranger-2");
        try {
            long reloads = mutual.count("TLS reloaded (SIGHUP)");
            Path tmp = file.resolveSibling("client-ca.crt.new");
            Files.copy(otherCa.cert(), tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            mutual.sighup();
            mutual.awaitLine("TLS reloaded (SIGHUP)", reloads, Duration.ofSeconds(10));
            Curl ok = curl(mutual, mutual.token(), "--cacert", ca.cert().toString(), "--cert",
                    stranger.cert().toString(), "--key", stranger.key().toString(), url(mutual, "/v1/host"));
            assertEquals(200, ok.status(), ok.stderr());
            refusedByMutual(client);
        } finally {
            long reloads = mutual.count("TLS reloaded (SIGHUP)");
            Files.copy(ca.cert(), file, StandardCopyOption.REPLACE_EXISTING);
            mutual.sighup();
            mutual.awaitLine("TLS reloaded (SIGHUP)", reloads, Duration.ofSeconds(10));
        }
    }

    @Test
    void rotatingTheTokenRefusesTheOldOneAtOnceWithoutARestart() throws Exception {
        String cacert = ca.cert().toString();
        String before = plain.token();
        long pid = plain.pid();
        Curl r = curl(plain, before, "--cacert", cacert, "-X", "POST", url(plain, "/v1/token/rotate"));
        assertEquals(200, r.status(), r.body() + r.stderr());
        JsonNode body = r.json();
        String after = body.path("token").asText();
        tokens.add(after);
        assertEquals(plain.stateDir.resolve("token").toString(), body.path("token_file").asText());
        assertEquals(after, plain.token());
        assertNotEquals(before, after);
        assertEquals("rw-------", PosixFilePermissions.toString(
                Files.getPosixFilePermissions(plain.stateDir.resolve("token"))));
        assertEquals(401, curl(plain, before, "--cacert", cacert, url(plain, "/v1/host")).status());
        assertEquals(200, curl(plain, after, "--cacert", cacert, url(plain, "/v1/host")).status());
        assertEquals(pid, plain.pid());
        assertTrue(plain.alive());
        assertTrue(plain.log().contains("token rotated"));
    }

    @Test
    void allowInsecureHttpWarnsAtStartAndRotateOverItDoesNotSendTheTokenBack() throws Exception {
        assertEquals(1, insecure.count("WARNING org.berth.agent.Agent: allow_insecure_http: the API on " + AGENT_IP
                + " is plain HTTP"), insecure.log());
        String before = insecure.token();
        Curl r = curl(insecure, before, "-X", "POST", "http://" + AGENT_IP + ":8080/v1/token/rotate");
        assertEquals(200, r.status(), r.body() + r.stderr());
        assertEquals(insecure.stateDir.resolve("token").toString(), r.json().path("token_file").asText());
        assertFalse(r.json().has("token"), "a new token must not cross the network in clear text: " + r.body());
        tokens.add(insecure.token());
        assertNotEquals(before, insecure.token());
        assertEquals(401, curl(insecure, before, "http://" + AGENT_IP + ":8080/v1/host").status());
        Curl host = curl(insecure, insecure.token(), "http://" + AGENT_IP + ":8080/v1/host");
        assertEquals(200, host.status());
        assertFalse(host.json().at("/host/api/tls").asBoolean());
    }

    @Test
    void aNonLoopbackAddressWithoutTlsStopsTheAgentWithTheMessage() throws Exception {
        Path d = Files.createDirectories(dir.resolve("refused"));
        Path config = Files.writeString(d.resolve("agent.yaml"), "listen_address: 0.0.0.0\nstate_dir: "
                + d.resolve("state") + "\n");
        Commands.Result r = new Commands(Duration.ofSeconds(60)).tryRun(List.of(NetnsAgent.javaBin(), "-cp",
                System.getProperty("java.class.path"), "org.berth.agent.Main", "--config", config.toString()), null);
        assertEquals(2, r.exitCode(), r.stdout() + r.stderr());
        assertTrue(r.stderr().contains("berth: configuration error: listen_address: 0.0.0.0 is not a loopback address"
                + " and the API would carry the bearer token in clear text; set tls.cert_file and tls.key_file (and "
                + "tls.client_ca_file for client certificates), or allow_insecure_http: true to accept that"),
                r.stderr());
        assertFalse(Files.exists(d.resolve("state")), "nothing is created before the refusal");
    }

    private static void readUntilClosed(InputStream in, ByteArrayOutputStream out) throws IOException {
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) >= 0; ) {
                out.write(buf, 0, n);
            }
        } catch (SocketException e) {
            // a reset is a close too
        } catch (SocketTimeoutException e) {
            throw new AssertionError("the agent kept the connection open for " + "15 s", e);
        }
    }

    /** One TLS connection of the JDK's client, kept open across requests (HTTP/1.1 keep-alive). */
    private static final class KeepAlive implements AutoCloseable {
        final BigInteger serial;
        private final SSLSocket socket;
        private final NetnsAgent agent;

        KeepAlive(NetnsAgent agent) throws Exception {
            this.agent = agent;
            SSLContext ctx = TestCerts.trusting(ca.cert());
            socket = (SSLSocket) ctx.getSocketFactory().createSocket();
            socket.connect(new InetSocketAddress(agent.address, agent.port), 5000);
            socket.setSoTimeout(10_000);
            SSLParameters p = socket.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            socket.setSSLParameters(p);
            socket.startHandshake();
            serial = ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }

        /** GET on this connection; the status. */
        int get(String path) throws IOException {
            OutputStream out = socket.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: " + agent.address + "\r\nAuthorization: Bearer "
                    + agent.token() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int c = in.read();
                if (c < 0) {
                    throw new IOException("the agent closed the kept-alive connection; got: " + head);
                }
                head.append((char) c);
            }
            int length = 0;
            for (String h : head.toString().split("\r\n")) {
                if (h.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                    length = Integer.parseInt(h.substring(15).strip());
                }
            }
            in.readNBytes(length);
            return Integer.parseInt(head.substring(9, 12));
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
