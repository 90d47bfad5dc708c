package org.berth.agent.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * scripts/tls-ca.sh and the CLI's TLS against {@code openssl s_server -WWW} (Debian's openssl): one server that
 * requires a client certificate from the CA, one whose certificate names another host. Nothing is left behind:
 * the servers are stopped and the directory deleted, both checked.
 */
class CliTlsTest {
    private static final String HOST_JSON = "{\"host\": {\"hypervisor_hostname\": \"tls-test\"}}";
    private static Path dir;
    private static Path ca;
    private static Path otherCa;
    private static final List<Process> servers = new ArrayList<>();
    private static int mtlsPort;
    private static int wrongNamePort;
    private static int expiredPort;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("berth-cli-tls");
        ca = dir.resolve("ca");
        otherCa = dir.resolve("other-ca");
        ca("init", ca.toString());
        ca("issue", ca.toString(), "agent", "IP:127.0.0.1", "DNS:localhost");
        ca("issue", ca.toString(), "elsewhere", "DNS:elsewhere.example");
        ca("issue", ca.toString(), "client", "--client");
        ca("init", otherCa.toString());
        ca("issue", otherCa.toString(), "agent", "IP:127.0.0.1");
        ca("issue", otherCa.toString(), "client", "--client");
        // what -WWW serves for GET /v1/host: a file under its working directory
        Files.createDirectories(dir.resolve("www/v1"));
        Files.writeString(dir.resolve("www/v1/host"), HOST_JSON);
        mtlsPort = server("agent", "-Verify", "1", "-verify_return_error", "-CAfile", ca.resolve("ca.crt").toString());
        wrongNamePort = server("elsewhere");
        expired("expired");
        expiredPort = server("expired");
    }

    @AfterAll
    static void stop() throws Exception {
        for (Process p : servers) {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            assertFalse(p.isAlive(), "openssl s_server " + p.pid() + " still runs");
        }
        if (dir != null) {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
            assertFalse(Files.exists(dir), dir + " is left");
        }
    }

    static Path repo() {
        String prop = System.getProperty("berth.repo.dir");
        for (Path p = prop != null ? Path.of(prop) : Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("scripts/tls-ca.sh"))) {
                return p;
            }
        }
        throw new IllegalStateException("no scripts/tls-ca.sh above " + Path.of("").toAbsolutePath());
    }

    record Out(int code, String text) {
    }

    /** scripts/tls-ca.sh ARGS, at most 30 s. */
    static Out ca(String... args) throws Exception {
        return ca(Map.of(), args);
    }

    /** scripts/tls-ca.sh ARGS with these environment variables besides the test's, at most 30 s. */
    static Out ca(Map<String, String> env, String... args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("bash", repo().resolve("scripts/tls-ca.sh").toString()));
        argv.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("tls-ca.sh " + String.join(" ", args) + " did not finish within 30 s");
        }
        return new Out(p.exitValue(), out.get(10, TimeUnit.SECONDS));
    }

    /** ca/NAME.{crt,key}: a server certificate for IP:127.0.0.1 from the CA that expired yesterday. */
    private static void expired(String name) throws Exception {
        Path csr = dir.resolve(name + ".csr");
        Path ext = dir.resolve(name + ".ext");
        Files.writeString(ext, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f(ca, name + ".key"), "-subj", "/CN=" + name, "-out", csr.toString());
        // -days -1: notAfter a day before notBefore (now), which openssl 3.0 accepts
        run("openssl", "x509", "-req", "-in", csr.toString(), "-CA", f(ca, "ca.crt"), "-CAkey", f(ca, "ca.key"),
                "-set_serial", "4242", "-days", "-1", "-extfile", ext.toString(), "-out", f(ca, name + ".crt"));
        Files.delete(csr);
        Files.delete(ext);
    }

    /**
     * openssl s_server with ca/NAME.{crt,key} on a free port of 127.0.0.1, once it accepts; its port. The port is
     * free when chosen but may be taken before s_server binds it: then another one, up to 5 times.
     */
    private static int server(String name, String... more) throws Exception {
        return server(CliTlsTest::freePort, name, more);
    }

    private static int server(java.util.function.IntSupplier ports, String name, String... more) throws Exception {
        for (int attempt = 1; attempt <= 5; attempt++) {
            int port = ports.getAsInt();
            if (start(port, name, more)) {
                return port;
            }
        }
        throw new AssertionError("openssl s_server did not start on 5 ports");
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Whether s_server started on {@code port} (false: it exited, e.g. the port was taken meanwhile). */
    private static boolean start(int port, String name, String... more) throws Exception {
        List<String> argv = new ArrayList<>(List.of("openssl", "s_server", "-WWW", "-accept", "127.0.0.1:" + port,
                "-cert", ca.resolve(name + ".crt").toString(), "-key", ca.resolve(name + ".key").toString()));
        argv.addAll(Arrays.asList(more));
        Process p = new ProcessBuilder(argv).directory(dir.resolve("www").toFile()).redirectErrorStream(true).start();
        servers.add(p);
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<Boolean> accepting = CompletableFuture.supplyAsync(() -> {
            try {
                for (String line; (line = r.readLine()) != null; ) {
                    if (line.startsWith("ACCEPT")) {
                        return true;
                    }
                }
            } catch (IOException e) {
                return false;
            }
            return false;
        });
        if (!accepting.get(20, TimeUnit.SECONDS)) {
            assertTrue(p.waitFor(10, TimeUnit.SECONDS), "openssl s_server neither accepts nor exits: " + argv);
            servers.remove(p);
            return false;
        }
        // keep draining its output, so that it never blocks on a full pipe
        Thread.ofVirtual().start(() -> {
            try {
                while (r.readLine() != null) {
                    // drained
                }
            } catch (IOException ended) {
                // the server stopped
            }
        });
        return true;
    }

    private static BerthCliTest.Run berth(Map<String, String> env, String... args) {
        List<String> all = new ArrayList<>(List.of("--token", "t0k3n", "--timeout", "10s"));
        all.addAll(Arrays.asList(args));
        return BerthCliTest.raw(env, all.toArray(String[]::new));
    }

    private static BerthCliTest.Run berth(String... args) {
        return berth(Map.of(), args);
    }

    private static String https(int port) {
        return "https://127.0.0.1:" + port;
    }

    private static String f(Path base, String name) {
        return base.resolve(name).toString();
    }

    @Test
    void theRightCaAndAClientCertificateWork() throws Exception {
        BerthCliTest.Run r = berth("--url", https(mtlsPort), "--cacert", f(ca, "ca.crt"), "--cert", f(ca, "client.crt"),
                "--key", f(ca, "client.key"), "--json", "host");
        assertEquals(0, r.code(), r.toString());
        assertEquals("tls-test", r.json().at("/host/hypervisor_hostname").asText(), r.out());
        // the same from the environment; a flag wins over its variable
        Map<String, String> env = Map.of("BERTH_CACERT", f(otherCa, "ca.crt"), "BERTH_CERT", f(ca, "client.crt"),
                "BERTH_KEY", f(ca, "client.key"));
        assertEquals(0, berth(env, "--url", https(mtlsPort), "--cacert", f(ca, "ca.crt"), "--json", "host").code());
        BerthCliTest.Run envOnly = berth(env, "--url", https(mtlsPort), "--json", "host");
        assertEquals(3, envOnly.code(), envOnly.toString());
        assertTrue(envOnly.err().contains("the agent's certificate is not signed by --cacert " + f(otherCa, "ca.crt")),
                envOnly.err());
    }

    @Test
    void anotherCaIsRefusedByName() {
        BerthCliTest.Run r = berth("--url", https(mtlsPort), "--cacert", f(otherCa, "ca.crt"), "host");
        assertEquals(3, r.code(), r.toString());
        assertTrue(r.err().contains("cannot reach the agent at " + https(mtlsPort)
                + ": the agent's certificate is not signed by --cacert " + f(otherCa, "ca.crt")), r.err());
        BerthCliTest.Run jdk = berth("--url", https(mtlsPort), "host");
        assertEquals(3, jdk.code(), jdk.toString());
        assertTrue(jdk.err().contains("not signed by the JDK's trust store (no --cacert)"), jdk.err());
    }

    @Test
    void aServerThatWantsAClientCertificateSaysSo() {
        BerthCliTest.Run none = berth("--url", https(mtlsPort), "--cacert", f(ca, "ca.crt"), "host");
        assertEquals(3, none.code(), none.toString());
        assertTrue(none.err().contains("the agent requires a client certificate"), none.err());
        // TLS 1.3 checks the certificate after the handshake: the alert may be lost to the reset of the closing
        // connection, leaving only "header parser received no bytes"; a bare handshake then reads the alert itself
        String lost = new ClientTls(Path.of(f(ca, "ca.crt")), null, null).explain(
                new java.io.IOException("HTTP/1.1 header parser received no bytes"),
                java.net.URI.create(https(mtlsPort)), java.time.Duration.ofSeconds(5));
        assertTrue(lost != null && lost.startsWith("the agent requires a client certificate (TLS alert "), lost);
        BerthCliTest.Run foreign = berth("--url", https(mtlsPort), "--cacert", f(ca, "ca.crt"),
                "--cert", f(otherCa, "client.crt"), "--key", f(otherCa, "client.key"), "host");
        assertEquals(3, foreign.code(), foreign.toString());
        assertTrue(foreign.err().contains("the agent refused the client certificate --cert " + f(otherCa, "client.crt")),
                foreign.err());
    }

    @Test
    void aHostnameMismatchNamesTheUrlsHost() throws Exception {
        BerthCliTest.Run r = berth("--url", https(wrongNamePort), "--cacert", f(ca, "ca.crt"), "host");
        assertEquals(3, r.code(), r.toString());
        assertTrue(r.err().contains("the agent's certificate does not name 127.0.0.1"), r.err());
        BerthCliTest.Run named = berth("--url", "https://localhost:" + wrongNamePort, "--cacert", f(ca, "ca.crt"), "host");
        assertEquals(3, named.code(), named.toString());
        assertTrue(named.err().contains("does not name localhost (hostname mismatch: its SANs must include "
                + "DNS:localhost)"), named.err());
        // a name the certificate does carry (agent.crt: IP:127.0.0.1 and DNS:localhost) works
        BerthCliTest.Run carried = berth("--url", "https://localhost:" + mtlsPort, "--cacert", f(ca, "ca.crt"),
                "--cert", f(ca, "client.crt"), "--key", f(ca, "client.key"), "--json", "host");
        assertEquals(0, carried.code(), carried.toString());
        assertEquals("tls-test", carried.json().at("/host/hypervisor_hostname").asText(), carried.out());
    }

    @Test
    void aPortTakenBeforeSServerBindsItIsRetried() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress())) {
            java.util.Iterator<Integer> ports = Stream.concat(Stream.of(taken.getLocalPort()),
                    Stream.generate(CliTlsTest::freePort)).iterator();
            int port = server(ports::next, "agent");
            assertNotEquals(taken.getLocalPort(), port);
            assertEquals(0, berth("--url", https(port), "--cacert", f(ca, "ca.crt"), "host").code());
        }
    }

    @Test
    void anExpiredCertificateIsNamedAsExpired() {
        BerthCliTest.Run r = berth("--url", https(expiredPort), "--cacert", f(ca, "ca.crt"), "host");
        assertEquals(3, r.code(), r.toString());
        assertTrue(r.err().contains("cannot reach the agent at " + https(expiredPort)
                + ": the agent's certificate has expired or is not yet valid"), r.err());
    }

    @Test
    void plainHttpToATlsAgentSaysUseHttps() {
        // loopback: allowed without --insecure-http, and the probe names the mistake
        BerthCliTest.Run r = berth("--url", "http://127.0.0.1:" + wrongNamePort, "host");
        assertEquals(3, r.code(), r.toString());
        assertTrue(r.err().contains("the agent at 127.0.0.1:" + wrongNamePort + " answered with TLS; use https://"),
                r.err());
        BerthCliTest.Run flags = berth("--url", "http://127.0.0.1:" + wrongNamePort, "--cacert", f(ca, "ca.crt"), "host");
        assertEquals(2, flags.code(), flags.toString());
        assertTrue(flags.err().contains("are for an https:// --url"), flags.err());
    }

    @Test
    void plainHttpOffLoopbackIsRefusedBeforeTheTokenIsSent() throws Exception {
        // a TEST-NET-1 address: refused at once (without the refusal: a connect timeout, exit 3)
        BerthCliTest.Run literal = berth("--url", "http://192.0.2.200:8774", "host");
        assertEquals(2, literal.code(), literal.toString());
        assertTrue(literal.err().contains("192.0.2.200 is not a loopback address") && literal.err().contains(
                "--insecure-http (BERTH_INSECURE_HTTP=1)"), literal.err());
        BerthCliTest.Run unresolved = berth("--url", "http://nowhere.invalid:8774", "host");
        assertEquals(2, unresolved.code(), unresolved.toString());
        assertTrue(unresolved.err().contains("nowhere.invalid does not resolve"), unresolved.err());
        // a name that resolves to loopback only is allowed (and the probe still names the mistake)
        BerthCliTest.Run named = berth("--url", "http://localhost:" + wrongNamePort, "host");
        assertEquals(3, named.code(), named.toString());
        assertTrue(named.err().contains("answered with TLS; use https://localhost:" + wrongNamePort), named.err());

        // this machine's own non-loopback address: nothing connects without the flag; with it, the request arrives
        java.net.InetAddress local = java.net.NetworkInterface.networkInterfaces()
                .filter(i -> { try { return i.isUp() && !i.isLoopback(); } catch (java.net.SocketException e) { return false; } })
                .flatMap(java.net.NetworkInterface::inetAddresses).filter(a -> a instanceof java.net.Inet4Address)
                .findFirst().orElse(null);
        org.junit.jupiter.api.Assumptions.assumeTrue(local != null, "no non-loopback IPv4 address here");
        try (ServerSocket listener = new ServerSocket(0, 5, local)) {
            String url = "http://" + local.getHostAddress() + ":" + listener.getLocalPort();
            listener.setSoTimeout(300);
            BerthCliTest.Run refused = berth("--url", url, "host");
            assertEquals(2, refused.code(), refused.toString());
            assertTrue(refused.err().contains("would send the bearer token in clear text"), refused.err());
            assertThrows(java.net.SocketTimeoutException.class, listener::accept, "nothing connected to " + url);
            listener.setSoTimeout(20_000);
            CompletableFuture<String> seen = CompletableFuture.supplyAsync(() -> {
                try (java.net.Socket s = listener.accept()) {
                    BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                    StringBuilder head = new StringBuilder();
                    for (String line; (line = in.readLine()) != null && !line.isEmpty(); ) {
                        head.append(line).append('\n');
                    }
                    return head.toString();
                } catch (IOException e) {
                    return e.toString();
                }
            });
            BerthCliTest.Run insecure = berth(Map.of("BERTH_INSECURE_HTTP", "1"), "--url", url, "host");
            assertTrue(seen.get(20, TimeUnit.SECONDS).contains("Bearer t0k3n"), "BERTH_INSECURE_HTTP=1 sends it");
            assertEquals(3, insecure.code(), insecure.toString());
        }
    }

    @Test
    void badFilesAreUsageErrorsNamingThem() throws Exception {
        String url = https(mtlsPort);
        BerthCliTest.Run missing = berth("--url", url, "--cacert", f(dir, "nope.crt"), "host");
        assertEquals(2, missing.code(), missing.toString());
        assertTrue(missing.err().contains("--cacert " + f(dir, "nope.crt") + " cannot be read (no such file)"),
                missing.err());
        BerthCliTest.Run noKey = berth("--url", url, "--cacert", f(ca, "ca.crt"), "--cert", f(ca, "client.crt"), "host");
        assertEquals(2, noKey.code(), noKey.toString());
        assertTrue(noKey.err().contains("--cert " + f(ca, "client.crt") + " needs --key"), noKey.err());
        BerthCliTest.Run notCa = berth("--url", url, "--cacert", f(ca, "ca.key"), "host");
        assertEquals(2, notCa.code(), notCa.toString());
        assertTrue(notCa.err().contains("holds no PEM certificate"), notCa.err());
        BerthCliTest.Run wrongKey = berth("--url", url, "--cacert", f(ca, "ca.crt"), "--cert", f(ca, "client.crt"),
                "--key", f(otherCa, "client.key"), "host");
        assertEquals(2, wrongKey.code(), wrongKey.toString());
        assertTrue(wrongKey.err().contains("is not the key of --cert"), wrongKey.err());

        Path encrypted = dir.resolve("encrypted.key");
        run("openssl", "pkcs8", "-topk8", "-in", f(ca, "client.key"), "-passout", "pass:secret", "-out", encrypted.toString());
        BerthCliTest.Run enc = berth("--url", url, "--cacert", f(ca, "ca.crt"), "--cert", f(ca, "client.crt"),
                "--key", encrypted.toString(), "host");
        assertEquals(2, enc.code(), enc.toString());
        assertTrue(enc.err().contains("is encrypted"), enc.err());
        Path sec1 = dir.resolve("sec1.key");
        run("openssl", "ec", "-in", f(ca, "client.key"), "-out", sec1.toString());
        BerthCliTest.Run traditional = berth("--url", url, "--cacert", f(ca, "ca.crt"), "--cert", f(ca, "client.crt"),
                "--key", sec1.toString(), "host");
        assertEquals(2, traditional.code(), traditional.toString());
        assertTrue(traditional.err().contains("convert it to PKCS#8"), traditional.err());
    }

    @Test
    void theCaScriptIssuesWhatItSaysAndKeepsIt() throws Exception {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(ca.resolve("ca.key"))));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(ca.resolve("agent.key"))));
        assertTrue(Files.readString(ca.resolve("agent.key")).startsWith("-----BEGIN PRIVATE KEY-----"));
        X509Certificate agent = cert(ca.resolve("agent.crt"));
        X509Certificate root = cert(ca.resolve("ca.crt"));
        agent.verify(root.getPublicKey());
        assertEquals(List.of("1.3.6.1.5.5.7.3.1"), agent.getExtendedKeyUsage(), "serverAuth");
        assertEquals(List.of("1.3.6.1.5.5.7.3.2"), cert(ca.resolve("client.crt")).getExtendedKeyUsage(), "clientAuth");
        assertEquals("[[7, 127.0.0.1], [2, localhost]]", String.valueOf(agent.getSubjectAlternativeNames()));
        assertTrue(root.getBasicConstraints() >= 0, "the CA is a CA");
        assertTrue(root.getNotAfter().getTime() - root.getNotBefore().getTime() > 3649L * 86400_000L, "10 years");
        // the PKCS#12 (empty password) holds the key and the chain
        KeyStore p12 = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(ca.resolve("client.p12"))) {
            p12.load(in, new char[0]);
        }
        assertTrue(p12.isKeyEntry("client"), "a key entry named client");
        assertEquals(2, p12.getCertificateChain("client").length);

        byte[] before = Files.readAllBytes(ca.resolve("agent.crt"));
        Out again = ca("issue", ca.toString(), "agent", "DNS:localhost", "IP:127.0.0.1");
        assertEquals(0, again.code(), again.text());
        assertTrue(again.text().contains("is there; kept"), again.text());
        assertArrayEquals(before, Files.readAllBytes(ca.resolve("agent.crt")), "a second issue keeps the certificate");
        assertTrue(ca("init", ca.toString()).text().contains("kept"));
        Out other = ca("issue", ca.toString(), "agent", "IP:127.0.0.2");
        assertEquals(1, other.code(), other.text());
        assertTrue(other.text().contains("remove " + ca.resolve("agent.crt")), other.text());
        Out bad = ca("issue", ca.toString(), "x", "localhost");
        assertEquals(1, bad.code(), bad.text());
        assertTrue(bad.text().contains("'localhost' is not a SAN"), bad.text());
        Out noCa = ca("issue", dir.resolve("none").toString(), "x", "IP:127.0.0.1");
        assertTrue(noCa.code() == 1 && noCa.text().contains("no CA in"), noCa.text());
        assertEquals(2, ca("issue").code());
        try (Stream<Path> left = Files.list(ca)) {
            assertTrue(left.noneMatch(p -> p.toString().endsWith(".csr") || p.toString().endsWith(".tmp")),
                    "no request or temporary file left in " + ca);
        }
    }

    @Test
    void theP12PasswordIsNotOnOpensslsCommandLine() throws Exception {
        // an openssl first on PATH that writes down its arguments, then runs the real one
        Path shim = Files.createDirectories(dir.resolve("shim"));
        Path argv = dir.resolve("openssl-argv");
        String real = Stream.of(System.getenv("PATH").split(":")).map(d -> Path.of(d, "openssl"))
                .filter(Files::isExecutable).findFirst().orElseThrow().toString();
        Files.writeString(shim.resolve("openssl"), "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + argv + "'\nexec '" + real
                + "' \"$@\"\n");
        Files.setPosixFilePermissions(shim.resolve("openssl"), PosixFilePermissions.fromString("rwx------"));
        Out issued = ca(Map.of("PATH", shim + ":" + System.getenv("PATH")), "issue", ca.toString(), "p12-client",
                "--client", "--p12-pass", "s3cret-p12");
        assertEquals(0, issued.code(), issued.text());
        String seen = Files.readString(argv);
        assertTrue(seen.contains("pkcs12 -export"), seen);
        assertFalse(seen.contains("s3cret-p12"), "the password on openssl's command line: " + seen);
        KeyStore p12 = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(ca.resolve("p12-client.p12"))) {
            p12.load(in, "s3cret-p12".toCharArray());
        }
        assertTrue(p12.isKeyEntry("p12-client"), "the PKCS#12 opens with the password given");
    }

    private static X509Certificate cert(Path file) throws Exception {
        try (var in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    private static void run(String... argv) throws Exception {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), String.join(" ", argv));
        assertEquals(0, p.exitValue(), String.join(" ", argv));
    }
}
