package org.berth.ovs.ovsdb;

/**
 * Every failure of the OVSDB client. The {@link Kind} tells callers what to do: retry later (DISCONNECTED),
 * report a slow server (TIMEOUT), or give up (PROTOCOL, ERROR).
 */
public class OvsdbException extends RuntimeException {
    /** Why a call failed. */
    public enum Kind {
        /** No connection, or the connection dropped before the answer came. */
        DISCONNECTED,
        /** The server did not answer within the call's timeout. */
        TIMEOUT,
        /** The server sent something that is not JSON-RPC (malformed JSON, oversized frame). */
        PROTOCOL,
        /** The server answered with an error (RPC error or a failed transaction operation). */
        ERROR
    }

    private final Kind kind;

    public OvsdbException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public OvsdbException(Kind kind, String message) {
        this(kind, message, null);
    }

    public Kind kind() {
        return kind;
    }
}
