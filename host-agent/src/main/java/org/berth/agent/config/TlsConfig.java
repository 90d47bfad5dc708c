package org.berth.agent.config;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The API's TLS ({@code tls.*}): off when {@code certFile} is null. With {@code clientCaFile} a client certificate
 * signed by that CA is required on every connection, and the bearer token is still checked on every request.
 *
 * @param handshakeTimeout a connection that has not finished its handshake by then is closed
 */
public record TlsConfig(Path certFile, Path keyFile, Path clientCaFile, Duration handshakeTimeout) {
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    public static TlsConfig off() {
        return new TlsConfig(null, null, null, DEFAULT_HANDSHAKE_TIMEOUT);
    }

    public boolean enabled() {
        return certFile != null;
    }

    public boolean clientCertificatesRequired() {
        return clientCaFile != null;
    }
}
