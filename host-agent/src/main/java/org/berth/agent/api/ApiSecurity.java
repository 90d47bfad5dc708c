package org.berth.agent.api;

/** How the API is protected, as {@code GET /v1/host} reports it under {@code api}. */
public record ApiSecurity(boolean tls, boolean clientCertificatesRequired) {
}
