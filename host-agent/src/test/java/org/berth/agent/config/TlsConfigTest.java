package org.berth.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** tls.* and allow_insecure_http: pairs, readable files, and the refusal of clear text off loopback. */
class TlsConfigTest {
    @TempDir
    Path dir;

    private ConfigException refused(String yaml) {
        return assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml));
    }

    @Test
    void certAndKeyComeTogetherAndTheClientCaNeedsThem() throws Exception {
        Path cert = Files.writeString(dir.resolve("c.pem"), "x");
        Path key = Files.writeString(dir.resolve("k.pem"), "x");
        assertEquals("tls.key_file", refused("tls: {cert_file: " + cert + "}").option());
        assertEquals("tls.cert_file", refused("tls: {key_file: " + key + "}").option());
        assertEquals("tls.client_ca_file", refused("tls: {client_ca_file: " + cert + "}").option());
        assertEquals("tls.cert_file", refused("tls: {cert_file: " + dir.resolve("missing.pem") + ", key_file: "
                + key + "}").option());
        assertEquals("tls.bogus", refused("tls: {bogus: 1}").option());
        TlsConfig t = ConfigLoader.parse("tls: {cert_file: " + cert + ", key_file: " + key + ", client_ca_file: "
                + cert + ", handshake_timeout: 2s}").tls();
        assertTrue(t.enabled());
        assertTrue(t.clientCertificatesRequired());
        assertEquals(Duration.ofSeconds(2), t.handshakeTimeout());
        assertFalse(ConfigLoader.parse("").tls().enabled());
        assertEquals(TlsConfig.DEFAULT_HANDSHAKE_TIMEOUT, ConfigLoader.parse("").tls().handshakeTimeout());
    }

    @Test
    void aNonLoopbackAddressWithoutTlsIsRefusedUnlessAllowed() throws Exception {
        ConfigException e = refused("listen_address: 0.0.0.0");
        assertEquals("listen_address: 0.0.0.0 is not a loopback address and the API would carry the bearer token "
                + "in clear text; set tls.cert_file and tls.key_file (and tls.client_ca_file for client "
                + "certificates), or allow_insecure_http: true to accept that", e.getMessage());
        assertEquals("listen_address", refused("listen_address: 198.18.0.1").option());
        assertEquals("listen_address", refused("listen_address: '::'").option());
        assertEquals("listen_address", refused("listen_address: agent.example").option());
        for (String loopback : new String[] {"127.0.0.1", "127.1.2.3", "localhost", "'::1'", "'0:0:0:0:0:0:0:1'"}) {
            assertEquals(loopback.replace("'", ""), ConfigLoader.parse("listen_address: " + loopback).listenAddress());
        }
        AgentConfig insecure = ConfigLoader.parse("listen_address: 0.0.0.0\nallow_insecure_http: true");
        assertTrue(insecure.allowInsecureHttp());
        Path cert = Files.writeString(dir.resolve("c.pem"), "x");
        assertTrue(ConfigLoader.parse("listen_address: 0.0.0.0\ntls: {cert_file: " + cert + ", key_file: " + cert
                + "}").tls().enabled());
        assertEquals("allow_insecure_http", refused("allow_insecure_http: yes please").option());
    }
}
