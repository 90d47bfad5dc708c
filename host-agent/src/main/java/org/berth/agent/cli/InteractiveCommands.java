package org.berth.agent.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.net.http.WebSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code berth console} and {@code berth exec}: interactive sessions over the agent's WebSocket. */
final class InteractiveCommands {
    private InteractiveCommands() {
    }

    private static String path(String uuid) {
        return "/v1/instances/" + ApiClient.segment(uuid);
    }

    @Command(name = "console", description = {
            "Attach to an instance's serial console (GET .../console upgraded to a WebSocket): keys go to the guest, "
                    + "Ctrl-] leaves. With --log (or --bytes): print the tail of its console log instead."})
    static final class Console implements java.util.concurrent.Callable<Integer> {
        @ParentCommand
        BerthCli root;

        @Parameters(paramLabel = "UUID")
        String uuid;

        @Option(names = "--log", description = "print the tail of the console log and exit")
        boolean log;

        @Option(names = "--bytes", paramLabel = "N", description = "with --log: how many bytes from the end "
                + "(1..1048576; default: the agent's, 65536); implies --log")
        Integer bytes;

        @Override
        public Integer call() {
            if (log || bytes != null || root.json()) {
                String text = root.client().text(path(uuid) + "/console" + (bytes == null ? "" : "?bytes=" + bytes));
                if (root.json()) {
                    root.out().println(ApiClient.JSON.createObjectNode().put("uuid", uuid).put("console", text)
                            .toPrettyString());
                } else {
                    root.out().print(text);
                }
                root.out().flush();
                return 0;
            }
            return attach(root, path(uuid) + "/console", true, false, "Connected to the console of " + uuid
                    + "; escape character is ^] (Ctrl-])");
        }
    }

    @Command(name = "exec", description = {"Run a command inside a container (POST .../exec, then its WebSocket): "
            + "stdin goes to it, its output comes back; exits with the command's status.",
            "  berth exec UUID -- sh -c 'exit 3'      berth exec -t UUID -- sh"})
    static final class Exec implements java.util.concurrent.Callable<Integer> {
        @ParentCommand
        BerthCli root;

        @Option(names = {"-t", "--tty"}, description = "give the command a terminal (interactive programs, "
                + "stdout and stderr merged); this terminal goes raw meanwhile")
        boolean tty;

        @Option(names = {"-e", "--env"}, paramLabel = "NAME=VALUE", description = "an environment variable (repeatable)")
        List<String> env = new ArrayList<>();

        @Option(names = {"-w", "--workdir"}, paramLabel = "DIR", description = "the directory to run in (absolute)")
        String workdir;

        @Parameters(index = "0", paramLabel = "UUID")
        String uuid;

        @Parameters(index = "1..*", paramLabel = "COMMAND", arity = "1..*",
                description = "the program and its arguments (after --)")
        List<String> command = new ArrayList<>();

        @Override
        public Integer call() {
            ObjectNode body = ApiClient.JSON.createObjectNode();
            ObjectNode e = body.putObject("exec");
            ArrayNode argv = e.putArray("command");
            command.forEach(argv::add);
            if (!env.isEmpty()) {
                ObjectNode en = e.putObject("env");
                for (String kv : env) {
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        throw new IllegalArgumentException("--env: '" + kv + "' must be NAME=VALUE");
                    }
                    en.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
            }
            if (workdir != null) {
                e.put("working_dir", workdir);
            }
            if (tty) {
                e.put("tty", true);
                RawTerminal.size().ifPresent(s -> e.put("columns", s[0]).put("rows", s[1]));
            }
            String url = root.client().post(path(uuid) + "/exec", body).path("exec").path("url").asText();
            return attach(root, url, false, tty, null);
        }
    }

    /**
     * Runs one session on {@code path}: raw terminal for a console or a {@code -t} exec (when stdin is a terminal),
     * restored on every way out. Exit status: an exec's own; 0 for a console left or ended normally; 1 when the
     * agent ended the session abnormally.
     */
    static int attach(BerthCli root, String path, boolean console, boolean tty, String banner) {
        PrintStream err = System.err;
        // the raw descriptor, not System.out: a PrintStream swallows EPIPE, and `berth exec … | head` must end
        SessionClient session = new SessionClient(new java.io.FileOutputStream(java.io.FileDescriptor.out));
        Optional<RawTerminal> raw = console || tty ? RawTerminal.enter() : Optional.empty();
        try {
            WebSocket ws = root.client().webSocket(path, session);
            if (banner != null) {
                SessionClient.note(err, raw.isPresent(), banner);
            }
            if (tty) {
                installResize(ws);
            }
            // a console leaves on Ctrl-] (and, on a terminal, never sees the end of stdin); an exec passes every byte
            // and tells the command when stdin ends
            session.run(ws, System.in, console, !console, root.timeout());
        } finally {
            raw.ifPresent(RawTerminal::close);
        }
        if (session.outputBroken()) {
            return 141; // as a shell reports a command killed by SIGPIPE
        }
        if (!console) {
            if (session.exitCode() != null) {
                return session.exitCode();
            }
            SessionClient.note(err, false, "the session ended without the command's status: "
                    + describe(session));
            return 255;
        }
        if (session.failed()) {
            SessionClient.note(err, false, "the console session ended: " + describe(session));
            return BerthCli.EXIT_API_ERROR;
        }
        return 0;
    }

    private static String describe(SessionClient s) {
        return (s.closeCode() >= 0 ? "close " + s.closeCode() + " " : "") + s.closeReason();
    }

    /** SIGWINCH: the new size goes to the command's terminal (sun.misc.Signal: the JDK has no other way). */
    @SuppressWarnings("sunapi")
    private static void installResize(WebSocket ws) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("WINCH"),
                    s -> RawTerminal.size().ifPresent(size -> SessionClient.resize(ws, size[0], size[1])));
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // no SIGWINCH here: the size stays what it was at the start
        }
    }
}
