package org.berth.agent.store;

/** The embedded store failed (disk full, corrupt file, schema newer than this agent). */
public final class StoreException extends RuntimeException {
    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
