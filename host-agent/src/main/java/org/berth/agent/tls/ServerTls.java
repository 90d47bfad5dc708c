package org.berth.agent.tls;

import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.security.auth.x500.X500Principal;
import org.berth.agent.config.ConfigException;
import org.berth.agent.config.TlsConfig;

/**
 * The API's TLS: the JDK's provider ({@link SslProvider#JDK}: TLS 1.3 without a native library), TLS 1.3 and 1.2
 * only, the JDK's default cipher suites kept to AEAD with ECDHE (or TLS 1.3's own). The certificate, key and client
 * CA are re-read on {@link #reload} (SIGHUP) and when the files change (polled every second, acted on once they
 * stayed the same for a poll, so a cert written before its key is not tried alone). A reload swaps the context that
 * <em>new</em> connections get; open ones keep theirs. A reload that fails keeps the old context.
 */
public final class ServerTls implements AutoCloseable {
    public static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");
    private static final System.Logger LOG = System.getLogger(ServerTls.class.getName());
    private static final long POLL_MILLIS = 1000;

    static {
        rejectClientRenegotiation();
    }

    /**
     * {@code jdk.tls.rejectClientInitiatedRenegotiation=true} (a TLS 1.2 client may not renegotiate: a CPU cost per
     * connection that a client could repeat at will); read once by the JDK, at its first server handshake, so set
     * before any context is made: by {@code Main} first, and here for an agent started in another program. An
     * operator's own {@code -D} wins.
     */
    public static void rejectClientRenegotiation() {
        if (System.getProperty("jdk.tls.rejectClientInitiatedRenegotiation") == null) {
            System.setProperty("jdk.tls.rejectClientInitiatedRenegotiation", "true");
        }
    }

    private final TlsConfig config;
    private final List<String> ciphers;
    private final AtomicReference<Loaded> current = new AtomicReference<>();
    private final ScheduledExecutorService watcher;
    private final HandshakeLog.Limit failureLog = HandshakeLog.newLimit();
    /** Touched by the watcher thread and by reload() under this object's lock. */
    private List<Stamp> applied;
    private List<Stamp> pending;

    /** A built context and the certificate it serves. */
    private record Loaded(SslContext context, X509Certificate certificate) {
    }

    /** What tells a changed file: a new inode (atomic replace), mtime or size. */
    private record Stamp(Path file, Object key, long modified, long size) {
    }

    private ServerTls(TlsConfig config) {
        this.config = config;
        this.ciphers = cipherSuites();
        this.applied = stamps();
        current.set(build(false)); // a ConfigException here stops the agent at start
        this.watcher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "berth-tls-watch");
            t.setDaemon(true);
            return t;
        });
        watcher.scheduleWithFixedDelay(this::poll, POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Builds the first context (a {@link ConfigException} naming the file if it cannot) and starts the watch. */
    public static ServerTls start(TlsConfig config) {
        if (!config.enabled()) {
            throw new IllegalArgumentException("TLS is not configured");
        }
        ServerTls tls = new ServerTls(config);
        LOG.log(Level.INFO, "TLS: " + tls.describe() + "; cipher suites " + String.join(", ", tls.ciphers));
        return tls;
    }

    /**
     * The JDK's default suites that are AEAD (GCM, ChaCha20-Poly1305) with forward secrecy: TLS 1.3's (always
     * ECDHE) and TLS 1.2's ECDHE ones; no CBC, no RSA key exchange, no DHE.
     */
    public static List<String> cipherSuites() {
        try {
            return Arrays.stream(SSLContext.getDefault().getDefaultSSLParameters().getCipherSuites())
                    .filter(s -> s.startsWith("TLS_AES_") || s.startsWith("TLS_CHACHA20_")
                            || (s.startsWith("TLS_ECDHE_") && (s.contains("_GCM_") || s.contains("_CHACHA20_POLY1305"))))
                    .toList();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no default TLS context", e);
        }
    }

    /** Puts TLS at the head of a new connection's pipeline, with the context current now. */
    public void addTo(ChannelPipeline pipeline) {
        SslHandler ssl = current.get().context().newHandler(pipeline.channel().alloc());
        ssl.setHandshakeTimeoutMillis(config.handshakeTimeout().toMillis());
        pipeline.addFirst("tls", ssl).addAfter("tls", "tls-log", new HandshakeLog(failureLog));
    }

    public boolean clientCertificatesRequired() {
        return config.clientCertificatesRequired();
    }

    /** "TLSv1.3/TLSv1.2, certificate CN=… (serial …, valid until …), client certificates required (CA …)". */
    public String describe() {
        X509Certificate c = current.get().certificate();
        return String.join("/", PROTOCOLS) + ", certificate " + name(c.getSubjectX500Principal()) + " (serial "
                + c.getSerialNumber().toString(16) + ", valid until " + c.getNotAfter().toInstant() + "), "
                + (config.clientCertificatesRequired() ? "client certificates required (CA " + config.clientCaFile()
                + ")" : "no client certificates");
    }

    /** Re-reads the files now (SIGHUP); true if the new context is in use. Never throws. */
    public synchronized boolean reload(String why) {
        applied = stamps();
        pending = null;
        Loaded next;
        try {
            next = build(true);
        } catch (ConfigException | IllegalArgumentException e) {
            LOG.log(Level.ERROR, "TLS reload (" + why + ") failed, still serving the previous certificate: "
                    + e.getMessage());
            return false;
        }
        current.set(next);
        X509Certificate c = next.certificate();
        LOG.log(Level.INFO, "TLS reloaded (" + why + "): new connections get certificate "
                + name(c.getSubjectX500Principal()) + " serial " + c.getSerialNumber().toString(16) + " valid until "
                + c.getNotAfter().toInstant() + (config.clientCertificatesRequired() ? ", client CA "
                + config.clientCaFile() : "") + "; open connections keep theirs");
        return true;
    }

    private synchronized void poll() {
        try {
            List<Stamp> now = stamps();
            if (now.equals(applied)) {
                pending = null;
            } else if (now.equals(pending)) {
                reload("files changed");
            } else {
                pending = now;
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "TLS: watching the certificate files failed: " + e);
        }
    }

    private List<Stamp> stamps() {
        List<Stamp> out = new ArrayList<>();
        for (Path p : new Path[] {config.certFile(), config.keyFile(), config.clientCaFile()}) {
            if (p == null) {
                continue;
            }
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                out.add(new Stamp(p, a.fileKey(), a.lastModifiedTime().toMillis(), a.size()));
            } catch (IOException e) {
                out.add(new Stamp(p, null, -1, -1)); // gone for now (being replaced): the next poll sees it again
            }
        }
        return out;
    }

    /** @param reload true on a reload: a certificate not valid now is refused (at start it gets a WARN) */
    private Loaded build(boolean reload) {
        List<X509Certificate> chain = PemFiles.certificates(config.certFile(), "tls.cert_file");
        PrivateKey key = PemFiles.privateKey(config.keyFile(), "tls.key_file");
        warnIfOthersMayRead(config.keyFile());
        X509Certificate leaf = chain.getFirst();
        if (!PemFiles.matches(key, leaf)) {
            throw new ConfigException("tls.key_file", config.keyFile() + " is not the private key of the certificate "
                    + name(leaf.getSubjectX500Principal()) + " in " + config.certFile());
        }
        Instant now = Instant.now();
        if (leaf.getNotAfter().toInstant().isBefore(now) || leaf.getNotBefore().toInstant().isAfter(now)) {
            String validity = "the certificate " + name(leaf.getSubjectX500Principal()) + " in " + config.certFile()
                    + " is valid only from " + leaf.getNotBefore().toInstant() + " to " + leaf.getNotAfter().toInstant()
                    + " (now " + now + ")";
            if (reload) {
                // a certificate that clients refuse must not replace one they accept
                throw new ConfigException("tls.cert_file", validity);
            }
            LOG.log(Level.WARNING, "TLS: " + validity + ": clients will refuse it");
        }
        SslContextBuilder b = SslContextBuilder.forServer(key, chain.toArray(X509Certificate[]::new))
                .sslProvider(SslProvider.JDK)
                .protocols(PROTOCOLS)
                .ciphers(ciphers);
        if (config.clientCertificatesRequired()) {
            List<X509Certificate> cas = PemFiles.certificates(config.clientCaFile(), "tls.client_ca_file");
            b.trustManager(cas.toArray(X509Certificate[]::new)).clientAuth(ClientAuth.REQUIRE);
        }
        try {
            return new Loaded(b.build(), leaf);
        } catch (SSLException | IllegalArgumentException e) {
            throw new ConfigException("tls.cert_file", config.certFile() + ": cannot build a TLS context: "
                    + e.getMessage());
        }
    }

    /** A key file with any group or other permission bit gets a WARN naming it (it is not changed). */
    static void warnIfOthersMayRead(Path keyFile) {
        java.util.Set<java.nio.file.attribute.PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(keyFile);
        } catch (IOException | UnsupportedOperationException e) {
            return; // read just now; not POSIX, or being replaced
        }
        String mode = java.nio.file.attribute.PosixFilePermissions.toString(perms);
        if (!mode.substring(3).equals("------")) {
            LOG.log(Level.WARNING, "TLS: the private key file " + keyFile + " is " + mode + ": its group or others "
                    + "have access to the key; chmod 600 it (or 640 with a group that only this agent's user is in)");
        }
    }

    static String name(X500Principal p) {
        return p.getName(X500Principal.RFC2253);
    }

    @Override
    public void close() {
        watcher.shutdownNow();
    }

    @Override
    public String toString() {
        return Objects.toString(current.get().certificate().getSubjectX500Principal());
    }
}
