package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;

/**
 * One JSON-RPC 1.0 message as RFC 7047 uses it. A request whose id is JSON {@code null} is a notification
 * (ovsdb-server's {@code update}); it is decoded as {@link Notification}.
 */
public sealed interface JsonRpcMessage {

    /** A call that expects a {@link Response} with the same id. */
    record Request(JsonNode id, String method, ArrayNode params) implements JsonRpcMessage {
    }

    /** The answer to a {@link Request}: exactly one of {@code result} and {@code error} is non-null JSON. */
    record Response(JsonNode id, JsonNode result, JsonNode error) implements JsonRpcMessage {
        public boolean isError() {
            return error != null && !error.isNull();
        }
    }

    /** A request with a null id: nobody answers it. */
    record Notification(String method, ArrayNode params) implements JsonRpcMessage {
    }
}
