package org.berth.agent.cli;

/** Why a command failed; each kind has its own exit code (see {@link BerthCli}). */
public sealed class CliException extends RuntimeException permits CliException.ApiAnswered, CliException.Unreachable,
        CliException.NoToken, CliException.TlsFiles, CliException.Failed {
    private final int exitCode;

    private CliException(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }

    /** The agent answered an error: its status and the field and rule it named. */
    public static final class ApiAnswered extends CliException {
        private final int status;
        private final String body;

        ApiAnswered(int status, String field, String rule, String message, String body) {
            super(status + " " + field + " (" + rule + "): " + message, BerthCli.EXIT_API_ERROR);
            this.status = status;
            this.body = body;
        }

        public int status() {
            return status;
        }

        /** The error as the agent sent it (JSON), for --json. */
        public String body() {
            return body;
        }
    }

    /** The agent could not be reached, or the exchange broke or timed out. */
    public static final class Unreachable extends CliException {
        public Unreachable(String url, String why) {
            super("cannot reach the agent at " + url + ": " + why, BerthCli.EXIT_UNREACHABLE);
        }
    }

    /** No token from --token, BERTH_TOKEN or the state directory. */
    static final class NoToken extends CliException {
        NoToken(String why) {
            super(why, BerthCli.EXIT_UNREACHABLE);
        }
    }

    /**
     * A command that could not do what was asked for a reason it names (e.g. {@code berth cloud spawn}: "no valid
     * host: ..."): exit 1, as an error the agent answered.
     */
    public static final class Failed extends CliException {
        public Failed(String message) {
            super(message, BerthCli.EXIT_API_ERROR);
        }
    }

    /** A --cacert, --cert or --key file that is missing, unreadable or not what it must be: bad usage. */
    static final class TlsFiles extends CliException {
        TlsFiles(String why) {
            super(why, BerthCli.EXIT_USAGE);
        }
    }
}
