package org.berth.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The multi-host lab of {@code scripts/lab.sh} as a fixture: one OVN central and N simulated hosts (a network
 * namespace each, with its own ovsdb-server, ovs-vswitchd, ovn-controller and Berth agent), brought up once per
 * test JVM and taken down when it exits (only if this JVM brought it up). Tests play Neutron through
 * {@link #nbctl}; they read the southbound database and each host's switch to check what happened.
 */
public final class Lab {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration UP_LIMIT = Duration.ofMinutes(5);
    private static final Duration CALL = Duration.ofSeconds(30);
    private static Lab shared;

    private final Path script;
    /** What {@code up} ran with: a later call of the script passes the same, so it keeps the agents as they are. */
    private final Map<String, String> env;
    private final Path dir;
    private final String nb;
    private final String sb;
    private final List<LabHost> hosts;
    private final LabTls tls;
    private final URI placementUrl;
    private final String placementToken;
    /** How long {@code up} took (seconds), as the script measured it end to end from here. */
    public final double upSeconds;

    private Lab(Path script, Path dir, String nb, String sb, List<LabHost> hosts, LabTls tls, URI placementUrl,
                String placementToken, double upSeconds, Map<String, String> env) {
        this.script = script;
        this.placementUrl = placementUrl;
        this.placementToken = placementToken;
        this.tls = tls;
        this.env = env;
        this.dir = dir;
        this.nb = nb;
        this.sb = sb;
        this.hosts = List.copyOf(hosts);
        this.upSeconds = upSeconds;
    }

    /**
     * The JVM's lab with at least {@code count} hosts, its agents on this JVM's class path, with
     * {@code vif_plugging_timeout} = {@code vifPluggingTimeout}. Brought up on first use; taken down at JVM exit.
     */
    public static synchronized Lab shared(int count, Duration vifPluggingTimeout) {
        if (shared != null && shared.hosts.size() >= count) {
            return shared;
        }
        Path script = repoRoot().resolve("scripts/lab.sh");
        Path dir = Path.of(System.getenv().getOrDefault("BERTH_LAB_DIR", "/var/tmp/berth-lab"));
        boolean ours = !Files.exists(dir.resolve("lab.json"));
        long t0 = System.nanoTime();
        Map<String, String> env = Map.of("BERTH_AGENT_CLASSPATH", System.getProperty("java.class.path"),
                "BERTH_IMAGES_DIR", TestImages.dir().toString(),
                "BERTH_LAB_VIF_PLUGGING_TIMEOUT", vifPluggingTimeout.toSeconds() + "s");
        Cmd.Result up = Cmd.run(UP_LIMIT, List.of("bash", script.toString(), "up", Integer.toString(count)), env);
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (ours && shared == null) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                Cmd.Result down = Cmd.run(Duration.ofMinutes(2), List.of("bash", script.toString(), "down"));
                if (!down.ok()) {
                    System.err.println("lab down failed: " + down.stderr());
                }
            }, "lab-down"));
        }
        if (!up.ok()) {
            throw new IllegalStateException("scripts/lab.sh up " + count + " failed (exit " + up.exit() + "):\n"
                    + up.stdout() + up.stderr());
        }
        System.out.print(up.stdout());
        shared = read(script, dir, seconds, env);
        return shared;
    }

    private static Lab read(Path script, Path dir, double seconds, Map<String, String> env) {
        try {
            JsonNode j = JSON.readTree(Files.readString(dir.resolve("lab.json")));
            LabTls tls = j.hasNonNull("ca") ? new LabTls(Path.of(j.get("ca").asText()),
                    Path.of(j.get("client_cert").asText()), Path.of(j.get("client_key").asText()),
                    Path.of(j.get("client_p12").asText())) : null;
            HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
            if (tls != null) {
                client.sslContext(tls.context());
            }
            HttpClient http = client.build();
            List<LabHost> hosts = new ArrayList<>();
            for (JsonNode h : j.get("hosts")) {
                hosts.add(new LabHost(h.get("name").asText(), h.get("netns").asText(), Path.of(h.get("dir").asText()),
                        URI.create(h.get("api").asText()), Path.of(h.get("token_file").asText()),
                        h.get("ovsdb").asText(), Path.of(h.get("ovs_rundir").asText()),
                        h.get("underlay_ip").asText(), h.get("mgmt_ip").asText(), Path.of(h.get("agent_log").asText()),
                        h.path("chassis").asText(h.get("name").asText()), http));
            }
            JsonNode p = j.path("placement");
            return new Lab(script, dir, j.get("nb").asText(), j.get("sb").asText(), hosts, tls,
                    p.hasNonNull("url") ? URI.create(p.get("url").asText()) : null, p.path("token").asText("admin"),
                    seconds, env);
        } catch (IOException e) {
            throw new UncheckedIOException("read " + dir.resolve("lab.json"), e);
        }
    }

    /** The checkout's root: {@code -Dberth.repo.dir}, else the first parent of the working directory with scripts/lab.sh. */
    public static Path repoRoot() {
        String prop = System.getProperty("berth.repo.dir");
        if (prop != null) {
            return Path.of(prop);
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("scripts/lab.sh"))) {
                return p;
            }
        }
        throw new IllegalStateException("no scripts/lab.sh above " + Path.of("").toAbsolutePath());
    }

    public List<LabHost> hosts() {
        return hosts;
    }

    public LabHost host(int i) {
        return hosts.get(i);
    }

    public Path dir() {
        return dir;
    }

    /**
     * The hosts file of {@code berth cloud --hosts}: the lab's own {@code lab.json} (Placement's URL and token, the
     * southbound socket, the TLS files, and per host its name = Placement provider = OVN chassis, API and token file).
     */
    public Path hostsFile() {
        return dir.resolve("lab.json");
    }

    /** The lab's Placement (scripts/placement.sh on the management bridge), which every agent reports to. */
    public URI placementUrl() {
        if (placementUrl == null) {
            throw new IllegalStateException(hostsFile() + " names no placement (a lab from an older lab.sh: down and up)");
        }
        return placementUrl;
    }

    /** Its noauth2 token. */
    public String placementToken() {
        return placementToken;
    }

    /** The lab's CA and client certificate, or empty when its agents serve plain HTTP ({@code BERTH_LAB_TLS=0}). */
    public java.util.Optional<LabTls> tls() {
        return java.util.Optional.ofNullable(tls);
    }

    /**
     * The files of the lab's CA ({@code scripts/tls-ca.sh} under {@code <lab>/ca}): its certificate, which signed
     * every agent's, and the client certificate the agents require (PEM, and PKCS#12 with the empty password).
     */
    public record LabTls(Path ca, Path clientCert, Path clientKey, Path clientP12) {
        /** Trusts the lab's CA only and presents the client certificate. */
        public SSLContext context() {
            try {
                KeyStore trust = KeyStore.getInstance("PKCS12");
                trust.load(null, null);
                try (InputStream in = Files.newInputStream(ca)) {
                    trust.setCertificateEntry("lab-ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(trust);
                KeyStore client = KeyStore.getInstance("PKCS12");
                try (InputStream in = Files.newInputStream(clientP12)) {
                    client.load(in, new char[0]);
                }
                KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(client, new char[0]);
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
                return ctx;
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalStateException("the lab's TLS files " + ca + ", " + clientP12 + ": " + e.getMessage(), e);
            }
        }
    }

    /** {@code ovn-nbctl} on the lab's northbound database: what Neutron's OVN driver writes. */
    public Cmd.Result nbctl(String... args) {
        return ovn("ovn-nbctl", nb, args);
    }

    /** {@code ovn-sbctl} on the lab's southbound database. */
    public Cmd.Result sbctl(String... args) {
        return ovn("ovn-sbctl", sb, args);
    }

    private static Cmd.Result ovn(String tool, String db, String... args) {
        List<String> argv = new ArrayList<>(List.of(tool, "--db=" + db, "--timeout=20"));
        argv.addAll(List.of(args));
        return Cmd.run(CALL, argv);
    }

    /** The chassis name a logical port is bound to in the southbound database, or "" when it is not bound. */
    public String chassisOf(String logicalPort) {
        String uuid = sbctl("--bare", "--columns=chassis", "find", "Port_Binding", "logical_port=" + logicalPort)
                .orThrow().strip();
        return uuid.isEmpty() ? "" : sbctl("--bare", "--columns=name", "list", "Chassis", uuid).orThrow().strip();
    }

    /** The script itself, for tests of its own behaviour (status, a second up). */
    public Cmd.Result script(Duration limit, String... args) {
        List<String> argv = new ArrayList<>(List.of("bash", script.toString()));
        argv.addAll(List.of(args));
        return Cmd.run(limit, argv, env);
    }

    /**
     * One simulated host.
     *
     * @param api the agent's REST API on the management network (reachable from the root namespace), https://
     *     unless the lab runs with {@code BERTH_LAB_TLS=0}
     * @param ovsRundir OVS_RUNDIR of its switch (br-int's OpenFlow socket is {@code <ovsRundir>/br-int.mgmt})
     * @param chassis its OVN chassis name (= name = its Placement provider's name)
     * @param http the client {@link #call} uses: the lab's CA and client certificate when the API is https
     */
    public record LabHost(String name, String netns, Path dir, URI api, Path tokenFile, String ovsdb, Path ovsRundir,
                          String underlayIp, String mgmtIp, Path agentLog, String chassis, HttpClient http) {

        /** A reply of the agent's API. */
        public record Reply(int status, String body) {
            public JsonNode json() {
                try {
                    return JSON.readTree(body);
                } catch (IOException e) {
                    throw new UncheckedIOException("not JSON: " + body, e);
                }
            }
        }

        public String token() {
            try {
                return Files.readString(tokenFile).strip();
            } catch (IOException e) {
                throw new UncheckedIOException("token of " + name, e);
            }
        }

        /** {@code METHOD path} on this host's agent with its token; {@code body} JSON or null. */
        public Reply call(String method, String path, String body) throws IOException, InterruptedException {
            HttpRequest.Builder b = HttpRequest.newBuilder(api.resolve(path)).timeout(CALL)
                    .header("Authorization", "Bearer " + token());
            if (body != null) {
                b.header("Content-Type", "application/json");
            }
            b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.body());
        }

        /** {@code ovs-vsctl} on this host's switch. */
        public Cmd.Result vsctl(String... args) {
            List<String> argv = new ArrayList<>(List.of("ovs-vsctl", "--db=" + ovsdb, "--timeout=10"));
            argv.addAll(List.of(args));
            return Cmd.run(CALL, argv);
        }

        /** {@code ovs-ofctl ARGS} with this host's OVS_RUNDIR (so {@code br-int} names its OpenFlow socket). */
        public Cmd.Result ofctl(String... args) {
            List<String> argv = new ArrayList<>(List.of("ovs-ofctl", "--timeout=10"));
            argv.addAll(List.of(args));
            return Cmd.run(CALL, argv, Map.of("OVS_RUNDIR", ovsRundir.toString()));
        }

        /** {@code argv} run inside this host's network namespace. */
        public Cmd.Result inNetns(Duration limit, String... argv) {
            List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", netns));
            all.addAll(List.of(argv));
            return Cmd.run(limit, all);
        }

        /** The last {@code chars} characters of the agent's log, for failure messages. */
        public String logTail(int chars) {
            try {
                String s = Files.readString(agentLog);
                return s.substring(Math.max(0, s.length() - chars));
            } catch (IOException e) {
                return "(no log at " + agentLog + ": " + e.getMessage() + ")";
            }
        }
    }
}
