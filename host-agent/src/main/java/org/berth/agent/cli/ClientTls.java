package org.berth.agent.cli;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.berth.agent.tls.PemFiles;

/**
 * The CLI's side of TLS: an {@link SSLContext} that trusts the CA of {@code --cacert} (else the JDK's trust store)
 * and presents the client certificate of {@code --cert}/{@code --key}, read from PEM files as {@code scripts/tls-ca.sh}
 * and {@code openssl} write them (unencrypted PKCS#8 keys, EC or RSA). Every problem with a file is a
 * {@link CliException.TlsFiles} naming it.
 */
public record ClientTls(Path caFile, Path certFile, Path keyFile) {
    /** TLS 1.2 and 1.3 only, as the agent. */
    static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    public ClientTls {
        if ((certFile == null) != (keyFile == null)) {
            throw new CliException.TlsFiles(certFile != null
                    ? "--cert " + certFile + " needs --key (the client certificate's private key, PEM)"
                    : "--key " + keyFile + " needs --cert (the client certificate it belongs to, PEM)");
        }
    }

    boolean any() {
        return caFile != null || certFile != null;
    }

    /** What the flags named, as the error messages show it (e.g. {@code --cacert /x/ca.crt}). */
    String caName() {
        return caFile == null ? "the JDK's trust store (no --cacert)" : "--cacert " + caFile;
    }

    SSLContext context() {
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            if (caFile == null) {
                tmf.init((KeyStore) null);
            } else {
                KeyStore trust = emptyStore();
                int n = 0;
                for (X509Certificate c : certificates(caFile, "--cacert")) {
                    trust.setCertificateEntry("ca-" + n++, c);
                }
                tmf.init(trust);
            }
            KeyManagerFactory kmf = null;
            if (certFile != null) {
                List<X509Certificate> chain = certificates(certFile, "--cert");
                PrivateKey key = privateKey(keyFile);
                if (!PemFiles.matches(key, chain.getFirst())) {
                    throw new CliException.TlsFiles("--key " + keyFile + " is not the key of --cert " + certFile);
                }
                KeyStore ks = emptyStore();
                ks.setKeyEntry("client", key, new char[0], chain.toArray(Certificate[]::new));
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(ks, new char[0]);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            TrustManager[] tms = tmf.getTrustManagers();
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tms, null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new CliException.TlsFiles("cannot set up TLS: " + e.getMessage());
        }
    }

    static SSLParameters parameters() {
        SSLParameters p = new SSLParameters();
        p.setProtocols(PROTOCOLS);
        return p;
    }

    private static KeyStore emptyStore() throws GeneralSecurityException, IOException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        return ks;
    }

    private static String read(Path file, String flag) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new CliException.TlsFiles(flag + " " + file + " is not a PEM file (not text)");
        } catch (IOException e) {
            throw new CliException.TlsFiles(flag + " " + file + " cannot be read ("
                    + (e instanceof java.nio.file.NoSuchFileException ? "no such file" : e.getClass().getSimpleName()) + ")");
        }
    }

    static List<X509Certificate> certificates(Path file, String flag) {
        List<X509Certificate> out;
        try {
            out = PemFiles.certificates(PemFiles.parse(read(file, flag)));
        } catch (CertificateException | IllegalArgumentException e) {
            throw new CliException.TlsFiles(flag + " " + file + " holds a broken certificate: " + e.getMessage());
        }
        if (out.isEmpty()) {
            throw new CliException.TlsFiles(flag + " " + file + " holds no PEM certificate (BEGIN CERTIFICATE)");
        }
        return out;
    }

    static PrivateKey privateKey(Path file) {
        List<PemFiles.Block> blocks;
        try {
            blocks = PemFiles.parse(read(file, "--key"));
        } catch (IllegalArgumentException e) {
            throw new CliException.TlsFiles("--key " + file + ": " + e.getMessage());
        }
        if (blocks.isEmpty()) {
            throw new CliException.TlsFiles("--key " + file + " holds no PEM private key (BEGIN PRIVATE KEY)");
        }
        String kind = blocks.getFirst().type();
        switch (kind) {
            case "PRIVATE KEY" -> {
                try {
                    PrivateKey key = PemFiles.pkcs8(blocks.getFirst().der());
                    if (key.getAlgorithm().equals("EC") || key.getAlgorithm().equals("RSA")) {
                        return key;
                    }
                } catch (GeneralSecurityException notAKey) {
                    // said below
                }
                throw new CliException.TlsFiles("--key " + file + " is neither an EC nor an RSA PKCS#8 key");
            }
            case "ENCRYPTED PRIVATE KEY" -> throw new CliException.TlsFiles("--key " + file + " is encrypted; the CLI "
                    + "reads unencrypted keys only (openssl pkcs8 -in KEY -out PLAIN.key, then keep it 0600)");
            case "EC PRIVATE KEY", "RSA PRIVATE KEY" -> throw new CliException.TlsFiles("--key " + file + " is a "
                    + "traditional " + kind.substring(0, 3).strip() + " key; convert it to PKCS#8: "
                    + "openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8");
            default -> throw new CliException.TlsFiles("--key " + file + " holds a " + kind + ", not a private key");
        }
    }

    /**
     * Why a request to {@code url} failed, in the operator's words, when TLS is the reason (or the lack of it: an
     * http:// URL to an agent that speaks TLS, found by a bounded probe handshake); null when it is not.
     */
    String explain(IOException e, URI url, Duration limit) {
        String all = messages(e);
        if (url.getScheme().equals("http")) {
            return e instanceof ConnectException || e instanceof java.net.http.HttpTimeoutException
                    || !speaksTls(url, limit) ? null : "the agent at " + url.getHost() + ":" + port(url)
                    + " answered with TLS; use https://" + url.getHost() + ":" + port(url);
        }
        if (has(e, java.security.cert.CertificateExpiredException.class)
                || has(e, java.security.cert.CertificateNotYetValidException.class)) {
            return "the agent's certificate has expired or is not yet valid (" + all + ")";
        }
        if (has(e, java.security.cert.CertPathValidatorException.class)
                || has(e, java.security.cert.CertPathBuilderException.class)
                || all.contains("unable to find valid certification path")) {
            return "the agent's certificate is not signed by " + caName();
        }
        if (all.contains("No subject alternative") || all.contains("No name matching")) {
            return "the agent's certificate does not name " + url.getHost() + " (hostname mismatch: its SANs must "
                    + "include " + (url.getHost().matches("[0-9.]+|\\[?[0-9a-fA-F:]+\\]?") ? "IP:" : "DNS:")
                    + url.getHost() + ")";
        }
        Matcher alert = Pattern.compile("Received fatal alert: (\\w+)").matcher(all);
        String name = alert.find() ? alert.group(1) : "";
        if (name.isEmpty() && (all.contains("header parser received no bytes") || all.contains("Connection reset"))) {
            // TLS 1.3: the agent checks the client certificate after the handshake, when our request is already
            // sent; its alert can be lost to the reset that closing with our unread request causes. Ask again
            // with a bare handshake that sends nothing, which reads the alert itself.
            name = alertAfterHandshake(url, limit);
        }
        if (List.of("certificate_required", "bad_certificate", "unknown_ca", "certificate_unknown",
                "access_denied").contains(name) || (certFile == null && all.contains("handshake_failure"))) {
            return certFile == null
                    ? "the agent requires a client certificate (TLS alert " + name + "): give --cert FILE --key FILE"
                    : "the agent refused the client certificate --cert " + certFile + " (TLS alert " + name
                    + "): it must be signed by the agent's tls.client_ca_file";
        }
        if (all.contains("Unsupported or unrecognized SSL message")) {
            return "the agent at " + url.getHost() + ":" + port(url) + " does not speak TLS; use http://";
        }
        return has(e, javax.net.ssl.SSLException.class) ? "TLS failed: " + all : null;
    }

    /**
     * The TLS alert the agent at {@code url} answers a handshake with this client's context with, read before any
     * request is sent; empty when none comes within {@code limit} (or on any other failure).
     */
    private String alertAfterHandshake(URI url, Duration limit) {
        int ms = (int) Math.min(Integer.MAX_VALUE, limit.toMillis());
        try (Socket plain = new Socket()) {
            plain.connect(new InetSocketAddress(url.getHost(), port(url)), ms);
            plain.setSoTimeout(ms);
            try (SSLSocket s = (SSLSocket) context().getSocketFactory().createSocket(plain, url.getHost(), port(url),
                    false)) {
                s.startHandshake();
                s.getInputStream().read(); // the agent's verdict on our (missing) certificate comes now
            }
        } catch (IOException e) {
            Matcher alert = Pattern.compile("Received fatal alert: (\\w+)").matcher(messages(e));
            return alert.find() ? alert.group(1) : "";
        } catch (RuntimeException e) {
            return "";
        }
        return "";
    }

    /** Whether whatever listens at {@code url}'s host and port starts a TLS handshake (sends its certificate). */
    static boolean speaksTls(URI url, Duration limit) {
        AtomicBoolean sawCertificate = new AtomicBoolean();
        X509TrustManager probe = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                throw new CertificateException("a probe only");
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                sawCertificate.set(true);
                throw new CertificateException("a probe only: nothing is trusted");
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        int ms = (int) Math.min(Integer.MAX_VALUE, limit.toMillis());
        try (Socket plain = new Socket()) {
            plain.connect(new InetSocketAddress(url.getHost(), port(url)), ms);
            plain.setSoTimeout(ms);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {probe}, null);
            try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(plain, url.getHost(), port(url), false)) {
                s.startHandshake();
            }
        } catch (IOException | GeneralSecurityException e) {
            // the probe's own refusal, or no TLS there
        }
        return sawCertificate.get();
    }

    private static int port(URI url) {
        return url.getPort() != -1 ? url.getPort() : url.getScheme().equals("https") ? 443 : 80;
    }

    private static String messages(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && b.indexOf(t.getMessage()) < 0) {
                b.append(b.isEmpty() ? "" : ": ").append(t.getMessage());
            }
        }
        return b.toString();
    }

    private static boolean has(Throwable e, Class<? extends Throwable> kind) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (kind.isInstance(t)) {
                return true;
            }
        }
        return false;
    }
}
