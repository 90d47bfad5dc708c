package org.berth.agent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.berth.agent.config.ConfigException;
import org.berth.agent.config.TlsConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading what openssl writes: the key forms, a key that is not the certificate's, broken files, the suites. */
class ServerTlsTest {
    @TempDir
    static Path dir;
    static TestCerts certs;
    static TestCerts.Pair ca;
    static TestCerts.Pair server;

    @BeforeAll
    static void makeCertificates() {
        certs = new TestCerts(dir);
        ca = certs.ca("unit-ca");
        server = certs.server(ca, "unit-server", "198.18.231.2");
    }

    private static TlsConfig config(Path cert, Path key) {
        return new TlsConfig(cert, key, null, Duration.ofSeconds(10));
    }

    @Test
    void readsPkcs8AndTheTraditionalRsaAndEcForms() throws Exception {
        try (ServerTls tls = ServerTls.start(config(server.cert(), server.key()))) {
            assertTrue(tls.describe().contains("CN=unit-server"), tls.describe());
        }
        // PKCS#1 (BEGIN RSA PRIVATE KEY) with a self-signed RSA certificate
        Path rsaKey = dir.resolve("rsa.key");
        Path rsaCert = dir.resolve("rsa.crt");
        TestCerts.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", rsaKey.toString(), "-out",
                rsaCert.toString(), "-days", "1", "-subj", "/CN=rsa");
        Path pkcs1 = dir.resolve("rsa-pkcs1.key");
        TestCerts.openssl("rsa", "-in", rsaKey.toString(), "-traditional", "-out", pkcs1.toString());
        assertTrue(Files.readString(pkcs1).startsWith("-----BEGIN RSA PRIVATE KEY-----"));
        ServerTls.start(config(rsaCert, pkcs1)).close();
        // SEC 1 (BEGIN EC PARAMETERS + BEGIN EC PRIVATE KEY, what ecparam -genkey writes)
        Path sec1 = dir.resolve("ec-sec1.key");
        TestCerts.openssl("ecparam", "-genkey", "-name", "prime256v1", "-out", sec1.toString());
        assertTrue(Files.readString(sec1).contains("-----BEGIN EC PRIVATE KEY-----"));
        Path ecCert = dir.resolve("ec.crt");
        TestCerts.openssl("req", "-x509", "-new", "-key", sec1.toString(), "-out", ecCert.toString(), "-days", "1",
                "-subj", "/CN=ec");
        ServerTls.start(config(ecCert, sec1)).close();
    }

    @Test
    void aKeyThatIsNotTheCertificatesIsRefusedNamingTheKeyFile() {
        TestCerts.Pair other = certs.server(ca, "unit-other", "198.18.231.3");
        ConfigException e = assertThrows(ConfigException.class, () -> ServerTls.start(config(server.cert(), other.key())));
        assertEquals("tls.key_file", e.option());
        assertTrue(e.getMessage().contains("is not the private key of the certificate CN=unit-server"), e.getMessage());
    }

    @Test
    void brokenFilesAreRefusedNamingTheOption() throws Exception {
        Path junk = Files.writeString(dir.resolve("junk.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assertEquals("tls.cert_file", assertThrows(ConfigException.class,
                () -> ServerTls.start(config(junk, server.key()))).option());
        Path empty = Files.writeString(dir.resolve("empty.pem"), "hello\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ServerTls.start(config(server.cert(), empty)));
        assertEquals("tls.key_file", e.option());
        assertTrue(e.getMessage().contains("holds no unencrypted PEM private key"), e.getMessage());
        Path encrypted = dir.resolve("encrypted.key");
        TestCerts.openssl("pkey", "-in", server.key().toString(), "-aes256", "-passout", "pass:secret", "-out",
                encrypted.toString());
        e = assertThrows(ConfigException.class, () -> ServerTls.start(config(server.cert(), encrypted)));
        assertTrue(e.getMessage().contains("encrypted key"), e.getMessage());
        assertFalse(e.getMessage().contains("secret"));
    }

    @Test
    void cipherSuitesAreAeadWithForwardSecrecyOnly() {
        List<String> suites = ServerTls.cipherSuites();
        assertTrue(suites.contains("TLS_AES_128_GCM_SHA256"), suites.toString());
        assertTrue(suites.contains("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"), suites.toString());
        assertTrue(suites.stream().noneMatch(s -> s.contains("CBC") || s.startsWith("TLS_RSA_")
                || s.startsWith("TLS_DHE_")), suites.toString());
    }

    @Test
    void aKeyFileWithGroupOrOtherBitsGetsAWarningNamingIt() throws Exception {
        Path key = dir.resolve("readable.key");
        Files.copy(server.key(), key);
        try (org.berth.agent.LogCapture log = new org.berth.agent.LogCapture()) {
            Files.setPosixFilePermissions(key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            ServerTls.start(config(server.cert(), key)).close();
            assertTrue(log.lines(java.util.logging.Level.WARNING, key.toString()).isEmpty(), log.toString());
            Files.setPosixFilePermissions(key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r-----"));
            ServerTls.start(config(server.cert(), key)).close();
            assertEquals(1, log.lines(java.util.logging.Level.WARNING, key.toString()).size(), log.toString());
        }
    }

    @Test
    void aReloadToAnExpiredOrNotYetValidCertificateKeepsTheOldOneWithAnError() throws Exception {
        Path cert = dir.resolve("reload.crt");
        Path key = dir.resolve("reload.key");
        Files.copy(server.cert(), cert);
        Files.copy(server.key(), key);
        TestCerts.Pair expired = certs.serverValidBetween(ca, "unit-expired", "20200101000000Z", "20200201000000Z");
        TestCerts.Pair future = certs.serverValidBetween(ca, "unit-future", "20990101000000Z", "20990201000000Z");
        try (org.berth.agent.LogCapture log = new org.berth.agent.LogCapture();
             ServerTls tls = ServerTls.start(config(cert, key))) {
            for (TestCerts.Pair bad : List.of(expired, future)) {
                Files.copy(bad.cert(), cert, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                Files.copy(bad.key(), key, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                assertFalse(tls.reload("test"));
                assertTrue(tls.describe().contains("CN=unit-server"), tls.describe());
                List<String> errors = log.lines(java.util.logging.Level.SEVERE, cert.toString());
                assertEquals(1, errors.size(), log.toString());
                assertTrue(errors.getFirst().contains("valid only from") && errors.getFirst().contains(
                        bad == expired ? "2020-02-01T00:00:00Z" : "2099-01-01T00:00:00Z"), errors.getFirst());
                log.clear();
            }
        }
        // at start it is a warning only: the agent comes up (and says why clients refuse it)
        try (org.berth.agent.LogCapture log = new org.berth.agent.LogCapture();
             ServerTls tls = ServerTls.start(config(expired.cert(), expired.key()))) {
            assertEquals(1, log.lines(java.util.logging.Level.WARNING, "valid only from").size(), log.toString());
        }
    }
}
