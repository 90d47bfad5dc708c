package org.berth.agent.placement;

/**
 * Placement did not do what was asked. Messages name the request and what came back; the token is never in them.
 */
public abstract sealed class PlacementException extends RuntimeException
        permits PlacementException.Unreachable, PlacementException.BadAnswer, PlacementException.Refused {

    private final String request;

    PlacementException(String request, String message, Throwable cause) {
        super(request + ": " + message, cause);
        this.request = request;
    }

    /** "METHOD path" of the failed request. */
    public String request() {
        return request;
    }

    /** No answer: connection refused or reset, or no answer within placement.timeout. */
    public static final class Unreachable extends PlacementException {
        Unreachable(String request, String message, Throwable cause) {
            super(request, message, cause);
        }
    }

    /** An answer that is not what the API promises: a 5xx, an HTML error page, JSON of the wrong shape. */
    public static final class BadAnswer extends PlacementException {
        private final int status;

        BadAnswer(String request, int status, String message) {
            super(request, message, null);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    /** A well-formed 4xx: Placement refused the request (its error {@code code}, e.g. placement.concurrent_update). */
    public static final class Refused extends PlacementException {
        private final int status;
        private final String code;

        Refused(String request, int status, String code, String detail) {
            super(request, status + " " + code + ": " + detail, null);
            this.status = status;
            this.code = code;
        }

        public int status() {
            return status;
        }

        public String code() {
            return code;
        }

        /** 409 placement.concurrent_update: a generation moved under us; re-read and resend. */
        public boolean concurrentUpdate() {
            return status == 409 && "placement.concurrent_update".equals(code);
        }
    }
}
