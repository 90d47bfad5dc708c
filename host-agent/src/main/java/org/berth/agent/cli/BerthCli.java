package org.berth.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.function.Consumer;
import org.berth.driver.api.DriverConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * {@code berth}: the operator's command line over the agent's REST API. Tables by default, {@code --json} prints
 * the API's JSON. Exit codes: 0 done, 1 the agent answered an error (status, field and rule printed), 2 bad usage,
 * 3 the agent cannot be reached or no token was found.
 */
@Command(name = "berth", mixinStandardHelpOptions = true, versionProvider = BerthCli.Version.class,
        description = "Berth host agent command line (REST API client).",
        subcommands = {HostCommands.Host.class, HostCommands.Drivers.class, InstanceCommands.List.class,
                InstanceCommands.Show.class, InstanceCommands.Spawn.class, InstanceCommands.Delete.class,
                InteractiveCommands.Console.class, InteractiveCommands.Exec.class, ActionCommands.Reboot.class, ActionCommands.Pause.class,
                ActionCommands.Unpause.class, ActionCommands.Suspend.class, ActionCommands.Resume.class,
                ActionCommands.Stop.class, ActionCommands.Start.class, ActionCommands.Snapshot.class,
                ImageCommands.class, HostCommands.Events.class, TopCommand.class, TokenCommands.class,
                org.berth.agent.cloud.CloudCommand.class},
        footer = {"", "Environment: BERTH_URL, BERTH_TOKEN, BERTH_STATE_DIR, BERTH_CACERT, BERTH_CERT, BERTH_KEY,",
                "BERTH_INSECURE_HTTP=1, BERTH_CLOUD_HOSTS (berth cloud).",
                "Exit codes: 0 done, 1 the agent answered an error, 2 bad usage, 3 agent unreachable or no token."})
public final class BerthCli implements java.util.concurrent.Callable<Integer> {
    public static final int EXIT_API_ERROR = 1;
    public static final int EXIT_USAGE = 2;
    public static final int EXIT_UNREACHABLE = 3;
    static final String DEFAULT_URL = "http://127.0.0.1:8774";

    @Option(names = "--url", scope = ScopeType.INHERIT, paramLabel = "URL",
            description = "the agent's API (default: $BERTH_URL or " + DEFAULT_URL + ")")
    String url;

    @Option(names = "--token", scope = ScopeType.INHERIT, paramLabel = "TOKEN",
            description = "bearer token (default: $BERTH_TOKEN, else the file <state-dir>/token)")
    String token;

    @Option(names = "--state-dir", scope = ScopeType.INHERIT, paramLabel = "DIR",
            description = "the agent's state directory, where its token is (default: $BERTH_STATE_DIR or ./state)")
    Path stateDir;

    @Option(names = "--cacert", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "PEM CA certificate(s) the agent's https:// certificate must be signed by "
                    + "(default: $BERTH_CACERT, else the JDK's trust store)")
    Path caCert;

    @Option(names = "--cert", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "PEM client certificate, for an agent with tls.client_ca_file (default: $BERTH_CERT)")
    Path cert;

    @Option(names = "--key", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "its private key, unencrypted PKCS#8 PEM as scripts/tls-ca.sh writes it (default: $BERTH_KEY)")
    Path key;

    @Option(names = "--insecure-http", scope = ScopeType.INHERIT,
            description = "send the token over an http:// --url to a host that is not loopback, in clear text "
                    + "(default: refused; $BERTH_INSECURE_HTTP=1 allows it too)")
    boolean insecureHttp;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "print the API's JSON instead of a table")
    boolean json;

    @Option(names = "--timeout", scope = ScopeType.INHERIT, paramLabel = "DURATION", defaultValue = "30s",
            converter = DurationConverter.class, description = "per-request timeout, e.g. 500ms, 30s, 2m (default: 30s)")
    Duration timeout;

    private Map<String, String> env = Map.of();
    private PrintWriter out;
    private ApiClient client;

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        System.exit(run(args, out, err, System.getenv()));
    }

    /** Runs one command line; returns the exit code. */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Map<String, String> env) {
        BerthCli root = new BerthCli();
        root.env = Map.copyOf(env);
        root.out = out;
        CommandLine cl = new CommandLine(root).setOut(out).setErr(err)
                .setExecutionExceptionHandler((e, line, parsed) -> {
                    if (e instanceof CliException c) {
                        err.println("berth: " + c.getMessage());
                        if (root.json && c instanceof CliException.ApiAnswered a) {
                            out.println(a.body());
                        }
                        err.flush();
                        out.flush();
                        return c.exitCode();
                    }
                    if (e instanceof IllegalArgumentException) {
                        err.println("berth: " + e.getMessage());
                        err.flush();
                        return EXIT_USAGE;
                    }
                    throw e;
                });
        int code = cl.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    @picocli.CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** {@code berth} alone: the usage, as an error. */
    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        err.println("berth: a command is required");
        spec.commandLine().usage(err);
        err.flush();
        return EXIT_USAGE;
    }

    ApiClient client() {
        if (client == null) {
            String base = url != null ? url : env.getOrDefault("BERTH_URL", DEFAULT_URL);
            if (!base.matches("https?://[^\\s/]+(/\\S*)?")) {
                throw new IllegalArgumentException("--url: '" + base + "' must be http://HOST:PORT or https://HOST:PORT");
            }
            if (!base.startsWith("https://") && (caCert != null || cert != null || key != null)) {
                throw new IllegalArgumentException("--cacert, --cert and --key are for an https:// --url, not " + base);
            }
            if (base.startsWith("http://") && !insecureHttp && !"1".equals(env.get("BERTH_INSECURE_HTTP"))) {
                refuseClearTextOffLoopback(base);
            }
            client = new ApiClient(base, resolveToken(), timeout, tls());
        }
        return client;
    }

    /**
     * Refuses, before anything is sent, an http:// URL whose host is not loopback: its literal address, or for a
     * name every address it resolves to (one that does not resolve is refused too). The bearer token would cross
     * the network in clear text.
     */
    static void refuseClearTextOffLoopback(String base) {
        String host = URI.create(base).getHost();
        if (host == null) {
            return; // the request itself reports the malformed URL
        }
        String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        String why;
        try {
            InetAddress[] all = InetAddress.getAllByName(bare); // a literal address is parsed, not looked up
            if (Arrays.stream(all).allMatch(InetAddress::isLoopbackAddress)) {
                return;
            }
            why = bare + " is not a loopback address" + (all.length == 1 && all[0].getHostAddress().equals(bare) ? ""
                    : " (it resolves to " + Arrays.stream(all).map(InetAddress::getHostAddress)
                            .collect(Collectors.joining(", ")) + ")");
        } catch (UnknownHostException e) {
            why = bare + " does not resolve, so it cannot be shown to be loopback";
        }
        throw new IllegalArgumentException("--url " + base + ": " + why + "; http:// would send the bearer token in "
                + "clear text. Use https://, or give --insecure-http (BERTH_INSECURE_HTTP=1) to send it anyway");
    }

    /** The TLS files: each flag, else its environment variable (flags win one by one). */
    private ClientTls tls() {
        return new ClientTls(file(caCert, "BERTH_CACERT"), file(cert, "BERTH_CERT"), file(key, "BERTH_KEY"));
    }

    private Path file(Path flag, String variable) {
        String v = env.get(variable);
        return flag != null ? flag : v == null || v.isBlank() ? null : Path.of(v.strip());
    }

    private String resolveToken() {
        if (token != null && !token.isBlank()) {
            return token.strip();
        }
        String fromEnv = env.get("BERTH_TOKEN");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return fromEnv.strip();
        }
        Path dir = stateDir != null ? stateDir : Path.of(env.getOrDefault("BERTH_STATE_DIR", "state"));
        Path file = dir.resolve("token");
        try {
            String t = Files.readString(file).strip();
            if (t.isEmpty()) {
                throw new CliException.NoToken("token: " + file + " is empty");
            }
            return t;
        } catch (IOException e) {
            throw new CliException.NoToken("token: none given (--token, BERTH_TOKEN) and " + file
                    + " cannot be read (" + e.getClass().getSimpleName() + "); use --state-dir DIR");
        }
    }

    /** The environment the command line runs with (tests pass their own). */
    public Map<String, String> env() {
        return env;
    }

    /** --timeout: the bound on each request. */
    public Duration timeout() {
        return timeout;
    }

    public boolean json() {
        return json;
    }

    public PrintWriter out() {
        return out;
    }

    /** Prints the answer as JSON (pretty) under --json; otherwise runs the table printer. */
    public void print(JsonNode answer, Runnable table) {
        if (json) {
            out.println(answer.toPrettyString());
            out.flush();
        } else {
            table.run();
        }
    }

    /** GETs the path and prints the answer: JSON under --json, otherwise by the table printer. */
    void show(String path, Consumer<JsonNode> table) {
        JsonNode answer = client().get(path);
        print(answer, () -> table.accept(answer));
    }

    /** The line that confirms a deletion: {"deleted": ID} under --json, otherwise the text. */
    public void printDeleted(String id, String text) {
        out.println(json ? "{\"deleted\": \"" + id + "\"}" : text);
        out.flush();
    }

    public static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            Duration d = DriverConfig.parseDuration(value);
            if (d == null || d.isNegative() || d.isZero()) {
                throw new CommandLine.TypeConversionException("'" + value + "' must be a duration such as 500ms, 30s, 2m");
            }
            return d;
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = BerthCli.class.getPackage().getImplementationVersion();
            return new String[] {"berth " + (v == null ? "(development build)" : v)};
        }
    }
}
