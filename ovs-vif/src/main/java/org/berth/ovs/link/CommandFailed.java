package org.berth.ovs.link;

import java.util.List;

/** A command exited non-zero, timed out, or could not start; the message quotes the command and its stderr. */
public final class CommandFailed extends RuntimeException {
    private final List<String> command;
    private final boolean timedOut;

    CommandFailed(List<String> command, String detail, boolean timedOut, Throwable cause) {
        super("`" + String.join(" ", command) + "` " + detail, cause);
        this.command = List.copyOf(command);
        this.timedOut = timedOut;
    }

    public List<String> command() {
        return command;
    }

    public boolean timedOut() {
        return timedOut;
    }
}
