package org.berth.agent.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.berth.agent.cli.BerthCli;
import org.berth.lab.Cmd;
import org.berth.lab.Lab;
import org.berth.lab.Lab.LabHost;
import org.berth.lab.Lab.LabTls;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 21's clients on the lab: its agents serve https:// with certificates from the lab's CA and require a
 * client certificate from it besides the token. Checked with Debian's curl, the CLI and the fixture's own client;
 * {@code berth token rotate} refuses the old token at once.
 */
class LabTlsTest {
    private static final Duration CMD = Duration.ofSeconds(30);
    private static Lab lab;
    private static LabTls tls;

    @BeforeAll
    static void lab() {
        lab = Lab.shared(3, OvnAcrossHostsTest.VIF_PLUGGING_TIMEOUT);
        tls = lab.tls().orElseThrow(() -> new AssertionError("the lab runs without TLS (BERTH_LAB_TLS=0?)"));
    }

    record Run(int code, String out, String err) {
    }

    private static Run berth(LabHost h, String... args) {
        List<String> all = new ArrayList<>(List.of("--state-dir", h.dir().resolve("agent").toString(), "--timeout", "20s"));
        all.addAll(Arrays.asList(args));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = BerthCli.run(all.toArray(String[]::new), new PrintWriter(out), new PrintWriter(err), Map.of());
        return new Run(code, out.toString(), err.toString());
    }

    /** curl's exit, the status it printed ({@code 000}: none), the body it received. */
    record Curl(int exit, String status, String body, Cmd.Result result) {
    }

    /** curl with {@code token} in a 0600 header file (never on a command line), deleted afterwards. */
    private static Curl curl(String token, String... args) throws IOException {
        Path header = Files.createTempFile("berth-lab-auth", ".header",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Path body = Files.createTempFile("berth-lab-curl", ".body");
        try {
            Files.writeString(header, "Authorization: Bearer " + token + "\n");
            List<String> argv = new ArrayList<>(List.of("curl", "-s", "--noproxy", "*", "--max-time", "10",
                    "-H", "@" + header, "-o", body.toString(), "-w", "%{http_code}"));
            argv.addAll(Arrays.asList(args));
            Cmd.Result r = Cmd.run(CMD, argv);
            return new Curl(r.exit(), r.stdout().strip(), Files.readString(body), r);
        } finally {
            Files.deleteIfExists(header);
            Files.deleteIfExists(body);
        }
    }

    @Test
    void everyAgentServesMutualTlsAndTheFixtureSpeaksIt() throws Exception {
        for (LabHost h : lab.hosts()) {
            assertEquals("https", h.api().getScheme(), h.name());
            LabHost.Reply r = h.call("GET", "/v1/host", null);
            assertEquals(200, r.status(), h.name() + ": " + r.body());
            assertTrue(r.json().at("/host/api/tls").asBoolean(), r.body());
            assertTrue(r.json().at("/host/api/client_certificates_required").asBoolean(), r.body());
        }
    }

    @Test
    void curlNeedsTheCaAndTheClientCertificate() throws IOException {
        LabHost h = lab.host(0);
        String url = h.api() + "/v1/host";
        Curl ok = curl(h.token(), "--cacert", tls.ca().toString(), "--cert", tls.clientCert().toString(),
                "--key", tls.clientKey().toString(), url);
        assertEquals("200", ok.status(), ok.toString());
        Curl noCa = curl(h.token(), "--cert", tls.clientCert().toString(), "--key", tls.clientKey().toString(), url);
        assertEquals(60, noCa.exit(), "curl without --cacert fails verification: " + noCa);
        Curl noCert = curl(h.token(), "--cacert", tls.ca().toString(), url);
        assertNotEquals(0, noCert.exit(), "no client certificate, no answer: " + noCert);
        assertNotEquals("200", noCert.status(), noCert.toString());
        // plain HTTP to the TLS port: the agent closes the connection without a byte (curl 52: empty reply; 56: reset)
        Curl plain = curl(h.token(), "http://" + h.mgmtIp() + ":8774/v1/host");
        assertTrue(plain.exit() == 52 || plain.exit() == 56, "plain HTTP to the TLS port gets no answer: " + plain);
        assertEquals("000", plain.status(), plain.toString());
        assertEquals("", plain.body(), plain.toString());
    }

    @Test
    void theCliTalksToTheLabOverTls() throws Exception {
        LabHost h = lab.host(1);
        String[] files = {"--cacert", tls.ca().toString(), "--cert", tls.clientCert().toString(),
                "--key", tls.clientKey().toString()};
        List<String> args = new ArrayList<>(List.of("--url", h.api().toString()));
        args.addAll(List.of(files));
        args.addAll(List.of("--json", "host"));
        Run ok = berth(h, args.toArray(String[]::new));
        assertEquals(0, ok.code(), ok.toString());
        JsonNode host = new ObjectMapper().readTree(ok.out());
        assertTrue(host.at("/host/api/tls").asBoolean(), ok.out());

        Run noCert = berth(h, "--url", h.api().toString(), "--cacert", tls.ca().toString(), "host");
        assertEquals(3, noCert.code(), noCert.toString());
        assertTrue(noCert.err().contains("the agent requires a client certificate"), noCert.err());
        // http:// off loopback: refused before the token is sent; with --insecure-http the probe names the mistake
        Run refused = berth(h, "--url", "http://" + h.mgmtIp() + ":8774", "host");
        assertEquals(2, refused.code(), refused.toString());
        assertTrue(refused.err().contains("--insecure-http"), refused.err());
        Run plain = berth(h, "--url", "http://" + h.mgmtIp() + ":8774", "--insecure-http", "host");
        assertEquals(3, plain.code(), plain.toString());
        assertTrue(plain.err().contains("answered with TLS; use https://"), plain.err());
    }

    @Test
    void aRotatedTokenRefusesTheOldOneAtOnce() throws Exception {
        LabHost h = lab.host(2);
        String old = h.token();
        Run rotated = berth(h, "--url", h.api().toString(), "--cacert", tls.ca().toString(),
                "--cert", tls.clientCert().toString(), "--key", tls.clientKey().toString(), "token", "rotate");
        assertEquals(0, rotated.code(), rotated.toString());
        assertTrue(rotated.out().contains(h.tokenFile().toString()), rotated.out());
        assertNotEquals(old, h.token(), "the token file holds a new token");
        Curl stale = curl(old, "--cacert", tls.ca().toString(), "--cert", tls.clientCert().toString(),
                "--key", tls.clientKey().toString(), h.api() + "/v1/host");
        assertEquals("401", stale.status(), stale.toString());
        assertEquals(200, h.call("GET", "/v1/host", null).status(), "the new token works, no restart");
    }
}
