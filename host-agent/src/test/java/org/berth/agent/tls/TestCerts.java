package org.berth.agent.tls;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.berth.ovs.link.Commands;

/**
 * Certificates made with Debian's {@code openssl} (argument arrays, a timeout each) in a test's directory: CAs,
 * server and client certificates signed by them, and certificates valid only in the past ({@code openssl ca
 * -startdate/-enddate}: OpenSSL 3.0's {@code x509} has no {@code -not_before}). Keys are EC P-256 PKCS#8 unless
 * asked otherwise.
 */
public final class TestCerts {
    private static final Commands OPENSSL = new Commands(Duration.ofSeconds(30));
    private static final AtomicLong SERIAL = new AtomicLong(0x1000);

    private final Path dir;

    public TestCerts(Path dir) {
        this.dir = dir;
    }

    /** A certificate file and its key file. */
    public record Pair(Path cert, Path key, BigInteger serial) {
    }

    static String openssl(String... args) {
        List<String> argv = new ArrayList<>();
        argv.add("openssl");
        argv.addAll(List.of(args));
        return OPENSSL.run(argv);
    }

    /** A self-signed CA named {@code name}. */
    public Pair ca(String name) {
        Path cert = dir.resolve(name + ".crt");
        Path key = dir.resolve(name + ".key");
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                key.toString(), "-out", cert.toString(), "-days", "3", "-subj", "/CN=" + name,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        return new Pair(cert, key, serialOf(cert));
    }

    /** A server certificate for the IP addresses {@code ips} (SANs), signed by {@code ca}. */
    public Pair server(Pair ca, String name, String... ips) {
        StringBuilder san = new StringBuilder("subjectAltName=DNS:localhost");
        for (String ip : ips) {
            san.append(",IP:").append(ip);
        }
        return issue(ca, name, san + "\nextendedKeyUsage=serverAuth\n", null, null);
    }

    /** A server certificate for 127.0.0.1 from {@code ca} valid only from {@code start} to {@code end}. */
    public Pair serverValidBetween(Pair ca, String name, String start, String end) {
        return issue(ca, name, "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", start, end);
    }

    /** A client certificate signed by {@code ca}. */
    Pair client(Pair ca, String name) {
        return issue(ca, name, "extendedKeyUsage=clientAuth\n", null, null);
    }

    /** A client certificate from {@code ca} valid only from {@code start} to {@code end} (YYYYMMDDHHMMSSZ). */
    Pair clientValidBetween(Pair ca, String name, String start, String end) {
        return issue(ca, name, "extendedKeyUsage=clientAuth\n", start, end);
    }

    private Pair issue(Pair ca, String name, String extensions, String start, String end) {
        Path cert = dir.resolve(name + ".crt");
        Path key = dir.resolve(name + ".key");
        Path csr = dir.resolve(name + ".csr");
        Path ext = dir.resolve(name + ".ext");
        try {
            Files.writeString(ext, extensions);
            openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    key.toString(), "-out", csr.toString(), "-subj", "/CN=" + name);
            String serial = "0x" + Long.toHexString(SERIAL.incrementAndGet());
            if (start == null) {
                openssl("x509", "-req", "-in", csr.toString(), "-CA", ca.cert().toString(), "-CAkey",
                        ca.key().toString(), "-set_serial", serial, "-days", "2", "-sha256", "-extfile", ext.toString(),
                        "-out", cert.toString());
            } else {
                pastCertificate(ca, csr, ext, cert, start, end);
            }
            Files.delete(csr);
            return new Pair(cert, key, serialOf(cert));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** {@code openssl ca} is the 3.0 tool that takes explicit validity dates; it wants a config and a database. */
    private void pastCertificate(Pair ca, Path csr, Path ext, Path cert, String start, String end) throws IOException {
        Path db = Files.createDirectories(dir.resolve("ca-db"));
        Files.writeString(db.resolve("index.txt"), "");
        Files.writeString(db.resolve("serial"), Long.toHexString(SERIAL.incrementAndGet()) + "\n");
        Path cnf = db.resolve("ca.cnf");
        Files.writeString(cnf, """
                [ca]
                default_ca = test
                [test]
                database = %s/index.txt
                new_certs_dir = %s
                serial = %s/serial
                default_md = sha256
                policy = any
                unique_subject = no
                [any]
                commonName = supplied
                [ext]
                %s
                """.formatted(db, db, db, Files.readString(ext)));
        openssl("ca", "-batch", "-notext", "-config", cnf.toString(), "-cert", ca.cert().toString(), "-keyfile",
                ca.key().toString(), "-in", csr.toString(), "-out", cert.toString(), "-startdate", start,
                "-enddate", end, "-extensions", "ext");
    }

    /** A client context that trusts only the CA in {@code caCert}. */
    public static javax.net.ssl.SSLContext trusting(Path caCert) throws java.security.GeneralSecurityException,
            IOException {
        java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (java.io.InputStream in = Files.newInputStream(caCert)) {
            trust.setCertificateEntry("ca", java.security.cert.CertificateFactory.getInstance("X.509")
                    .generateCertificate(in));
        }
        javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
                javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    static BigInteger serialOf(Path cert) {
        String out = openssl("x509", "-in", cert.toString(), "-noout", "-serial").strip();
        return new BigInteger(out.substring(out.indexOf('=') + 1), 16);
    }
}
