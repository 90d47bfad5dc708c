package org.berth.agent.console;

/** What a session is attached to: the instance's console, or a command run in it. */
public enum SessionKind {
    CONSOLE("console"), EXEC("exec");

    private final String word;

    SessionKind(String word) {
        this.word = word;
    }

    /** The word in URLs and event kinds ({@code console}, {@code exec}). */
    public String word() {
        return word;
    }
}
