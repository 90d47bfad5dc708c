package org.berth.agent.api;

import java.util.List;
import java.util.Map;

/**
 * One HTTP request, copied off the event loop's buffers.
 *
 * @param confidential it came over TLS or from a loopback address: a secret may be sent back on it
 * @param peer         the client's address, for the records of who did what
 */
record Request(String method, String path, Map<String, List<String>> query, byte[] body, String contentType,
               String requestId, boolean confidential, String peer) {

    String param(String name) {
        List<String> v = query.get(name);
        return v == null || v.isEmpty() ? null : v.get(0);
    }
}
