package org.berth.agent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.berth.agent.LogCapture;
import org.berth.agent.TestAgent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A TLS agent on 127.0.0.1 in this JVM, its log captured at FINEST: what the TLS server logs and does. */
class TlsLoopbackTest {
    @TempDir
    static Path dir;
    static TestCerts certs;
    static TestCerts.Pair ca;
    static TestCerts.Pair server;

    private LogCapture log;

    @BeforeAll
    static void makeCertificates() {
        certs = new TestCerts(dir);
        ca = certs.ca("loop-ca");
        server = certs.server(ca, "loop-server", "127.0.0.1");
    }

    @BeforeEach
    void captureLog() {
        log = new LogCapture();
    }

    @AfterEach
    void restoreLog() {
        log.close();
    }

    static String tls(String more) {
        return "drivers: {fake: {}}\ntls: {cert_file: " + server.cert() + ", key_file: " + server.key()
                + ", handshake_timeout: 2s" + more + "}\n";
    }

    static TestAgent agent(String more) throws Exception {
        return new TestAgent(tls(more), TestCerts.trusting(ca.cert()));
    }

    /** Sends {@code bytes} on a new connection and reads until the agent closes it (or 10 s). */
    static void sendRaw(int port, byte[] bytes) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(bytes);
            out.flush();
            InputStream in = s.getInputStream();
            while (in.read() >= 0) {
                // until closed
            }
        } catch (java.net.SocketException e) {
            // a reset is a close too
        }
    }

    @Test
    void plainHttpToTheTlsPortNeverLogsTheTokenNorItsHexAtAnyLevel() throws Exception {
        try (TestAgent a = agent("")) {
            String token = a.token();
            byte[] request = ("GET /v1/host HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII);
            sendRaw(a.agent.port(), request);
            // a second plain request that arrives in pieces: later records after the failure
            try (Socket s = new Socket("127.0.0.1", a.agent.port())) {
                s.setSoTimeout(10_000);
                OutputStream out = s.getOutputStream();
                out.write(request, 0, 20);
                out.flush();
                Thread.sleep(100);
                try {
                    out.write(request, 20, request.length - 20);
                    out.flush();
                    while (s.getInputStream().read() >= 0) {
                        // until closed
                    }
                } catch (java.net.SocketException e) {
                    // closed
                }
            }
            assertEquals(200, a.call("GET", "/v1/host", null).status());
            log.await("not a TLS record", 2, 5000);
            String all = log.toString();
            assertTrue(all.contains("not a TLS record"), all);
            HexFormat hex = HexFormat.of();
            for (String secret : List.of(token, hex.formatHex(token.getBytes(StandardCharsets.US_ASCII)),
                    hex.formatHex("Bearer ".getBytes(StandardCharsets.US_ASCII)),
                    hex.formatHex("GET /v1/".getBytes(StandardCharsets.US_ASCII)))) {
                assertFalse(all.toLowerCase().contains(secret.toLowerCase()), "the log holds " + secret + ":\n" + all);
            }
        }
    }

    @Test
    void failedHandshakesLogAtMostTenLinesAMinuteFromOneAddress() throws Exception {
        try (TestAgent a = agent("")) {
            for (int i = 0; i < 15; i++) {
                sendRaw(a.agent.port(), "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            log.await("not a TLS record", 10, 5000);
            Thread.sleep(300);
            assertEquals(10, log.lines(java.util.logging.Level.WARNING, "not a TLS record").size(), log.toString());
        }
    }

    @Test
    void aTls12ClientCannotRenegotiate() throws Exception {
        try (TestAgent a = agent("")) {
            javax.net.ssl.SSLContext ctx = TestCerts.trusting(ca.cert());
            try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) ctx.getSocketFactory()
                    .createSocket("127.0.0.1", a.agent.port())) {
                s.setEnabledProtocols(new String[] {"TLSv1.2"});
                s.setSoTimeout(10_000);
                s.startHandshake();
                assertEquals("TLSv1.2", s.getSession().getProtocol());
                OutputStream out = s.getOutputStream();
                String get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
                out.write(get.getBytes(StandardCharsets.US_ASCII));
                out.flush();
                byte[] buf = new byte[4096];
                int n = s.getInputStream().read(buf);
                assertTrue(new String(buf, 0, n, StandardCharsets.US_ASCII).startsWith("HTTP/1.1 200"));
                boolean refused;
                try {
                    s.startHandshake(); // a renegotiation
                    out.write(get.getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    refused = s.getInputStream().read(buf) < 0;
                } catch (java.io.IOException e) {
                    refused = true;
                }
                assertTrue(refused, "the agent refuses a client-initiated renegotiation");
            }
            assertEquals("true", System.getProperty("jdk.tls.rejectClientInitiatedRenegotiation"));
        }
    }
}
