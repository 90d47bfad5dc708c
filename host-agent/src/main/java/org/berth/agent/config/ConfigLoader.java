package org.berth.agent.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** Reads the agent's YAML file; every option has a default and every error names the option. */
public final class ConfigLoader {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Pattern DRIVER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}");
    /** Nova's default is $state_path/instances = /var/lib/nova/instances: a place QEMU's user can reach. */
    public static final Path DEFAULT_INSTANCES_PATH = Path.of("/var/lib/berth/instances");
    private static final Set<String> KEYS = Set.of("listen_address", "listen_port", "state_dir", "instances_path",
            "image_dirs",
            "bridge", "ovs", "drivers", "cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio",
            "reserved_host_memory_mb", "resume_guests_state_on_host_boot", "running_deleted_instance_action",
            "sync_power_state_interval", "driver_retry_max_backoff", "max_request_body_bytes", "api_workers",
            "task_workers", "shutdown_timeout", "max_image_upload_bytes", "max_concurrent_image_uploads",
            "image_upload_idle_timeout", "host", "update_resources_interval", "placement", "owner",
            "vif_plugging_timeout", "vif_plugging_is_fatal", "tls", "allow_insecure_http", "idle_timeout",
            "max_connections", "console", "instance_stats_interval");
    private static final Pattern TOKEN = Pattern.compile("[\\x21-\\x7e]{1,256}");

    private final ObjectNode root;
    private final Set<String> seen = new HashSet<>();

    private ConfigLoader(ObjectNode root) {
        this.root = root;
    }

    public static AgentConfig load(Path file) {
        try {
            return parse(Files.readString(file));
        } catch (IOException e) {
            throw new ConfigException("--config", "cannot read " + file + ": " + e.getMessage());
        }
    }

    public static AgentConfig parse(String yaml) {
        JsonNode tree;
        try {
            tree = yaml.isBlank() ? YAML.createObjectNode() : YAML.readTree(yaml);
        } catch (JsonProcessingException e) {
            throw new ConfigException("config", "not valid YAML: " + e.getOriginalMessage());
        }
        if (tree == null || tree.isNull() || tree.isMissingNode()) {
            tree = YAML.createObjectNode();
        }
        if (!(tree instanceof ObjectNode obj)) {
            throw new ConfigException("config", "the top level must be a mapping of option: value");
        }
        return new ConfigLoader(obj).build();
    }

    private AgentConfig build() {
        root.fieldNames().forEachRemaining(k -> {
            if (!KEYS.contains(k)) {
                throw new ConfigException(k, "unknown option; known options: " + String.join(", ", KEYS.stream().sorted().toList()));
            }
        });
        String address = text("listen_address", "127.0.0.1");
        if (!address.matches("[0-9A-Za-z.:-]{1,253}")) {
            throw new ConfigException("listen_address", "'" + address + "' must be an IP address or host name");
        }
        int port = (int) integer("listen_port", 8774, 0, 65535);
        // absolute: backends (libvirt) get paths under it and do not share our working directory
        Path stateDir = Path.of(text("state_dir", "./state")).toAbsolutePath().normalize();
        Path instancesPath = Path.of(text("instances_path", DEFAULT_INSTANCES_PATH.toString())).toAbsolutePath()
                .normalize();
        if (instancesPath.getParent() == null) {
            throw new ConfigException("instances_path", "'/' cannot be the instances path: give a directory of its own");
        }
        List<Path> imageDirs = new ArrayList<>();
        JsonNode dirs = root.get("image_dirs");
        if (dirs == null || dirs.isNull()) {
            imageDirs.add(Path.of(System.getProperty("berth.images.dir", "/var/cache/berth/images")));
        } else if (!dirs.isArray()) {
            throw new ConfigException("image_dirs", "must be a list of directories");
        } else {
            for (JsonNode d : dirs) {
                if (!d.isTextual() || d.asText().isBlank()) {
                    throw new ConfigException("image_dirs", "every entry must be a directory path");
                }
                imageDirs.add(Path.of(d.asText()).toAbsolutePath().normalize());
            }
        }
        String bridge = text("bridge", "br-int");
        if (!bridge.matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")) {
            throw new ConfigException("bridge", "'" + bridge + "' must be 1-15 characters of letters, digits, '_', '.', '-'");
        }
        JsonNode ovs = object("ovs");
        boolean ovsEnabled = bool(ovs, "ovs.enabled", "enabled", true);
        String ovsdb = text(ovs, "ovs.ovsdb", "ovsdb", "unix:/var/run/openvswitch/db.sock");
        boolean createBridges = bool(ovs, "ovs.create_bridges", "create_bridges", false);
        unknown(ovs, "ovs", Set.of("enabled", "ovsdb", "create_bridges"));
        TlsConfig tls = tls();
        boolean insecure = bool(root, "allow_insecure_http", "allow_insecure_http", false);
        refuseClearText(address, tls, insecure);

        return new AgentConfig(address, port, stateDir, instancesPath, imageDirs, bridge, ovsEnabled, ovsdb, createBridges, drivers(),
                ratio("cpu_allocation_ratio", 16.0), ratio("ram_allocation_ratio", 1.5),
                ratio("disk_allocation_ratio", 1.0),
                integer("reserved_host_memory_mb", 512, 0, 16L * 1024 * 1024),
                bool(root, "resume_guests_state_on_host_boot", "resume_guests_state_on_host_boot", false),
                action(), duration("sync_power_state_interval", Duration.ofSeconds(60), Duration.ofDays(1)),
                duration("driver_retry_max_backoff", Duration.ofSeconds(60), Duration.ofHours(1)),
                (int) integer("max_request_body_bytes", 1 << 20, 1024, 64L << 20),
                (int) integer("api_workers", 8, 1, 256), (int) integer("task_workers", 16, 1, 1024),
                duration("shutdown_timeout", Duration.ofSeconds(30), Duration.ofMinutes(30)),
                integer("max_image_upload_bytes", 64L << 30, 1024, 1L << 40),
                (int) integer("max_concurrent_image_uploads", 4, 1, 64),
                duration("image_upload_idle_timeout", Duration.ofMinutes(5), Duration.ofHours(1)), placement(),
                owner(), vifPlugging(), tls, insecure, idleTimeout(),
                (int) integer("max_connections", 1024, 1, 1 << 20), console(), instanceStatsInterval());
    }

    private ConsoleConfig console() {
        JsonNode c = object("console");
        unknown(c, "console", Set.of("max_sessions", "max_sessions_per_instance", "idle_timeout", "max_frame_bytes",
                "ticket_ttl"));
        ConsoleConfig d = ConsoleConfig.DEFAULTS;
        Duration idle = duration(c, "console.idle_timeout", "idle_timeout", d.idleTimeout(), Duration.ofDays(1));
        atLeast("console.idle_timeout", idle, Duration.ofSeconds(1));
        Duration ttl = duration(c, "console.ticket_ttl", "ticket_ttl", d.ticketTtl(), Duration.ofHours(1));
        atLeast("console.ticket_ttl", ttl, Duration.ofSeconds(1));
        return new ConsoleConfig((int) integer(c, "console.max_sessions", "max_sessions", d.maxSessions(), 1, 4096),
                (int) integer(c, "console.max_sessions_per_instance", "max_sessions_per_instance",
                        d.maxSessionsPerInstance(), 1, 1024),
                idle, (int) integer(c, "console.max_frame_bytes", "max_frame_bytes", d.maxFrameBytes(), 1024, 16 << 20),
                ttl);
    }

    /** 0 turns the sampler off; below 100 ms a sample of hundreds of instances could not keep up. */
    private Duration instanceStatsInterval() {
        JsonNode n = root.get("instance_stats_interval");
        if (n == null || n.isNull()) {
            return Duration.ofSeconds(10);
        }
        Duration d = n.isValueNode() ? DriverConfig.parseDuration(n.asText().trim()) : null;
        if (d == null || d.isNegative() || (!d.isZero() && d.compareTo(Duration.ofMillis(100)) < 0)
                || d.compareTo(Duration.ofHours(1)) > 0) {
            throw new ConfigException("instance_stats_interval", "'" + n.asText() + "' must be a duration such as "
                    + "10s, 1m or 10 (seconds), at least 100ms and at most 3600s; 0 = do not sample instance stats");
        }
        return d;
    }

    private Duration idleTimeout() {
        Duration d = duration("idle_timeout", Duration.ofSeconds(60), Duration.ofHours(1));
        atLeast("idle_timeout", d, Duration.ofMillis(100));
        return d;
    }

    private TlsConfig tls() {
        JsonNode t = object("tls");
        unknown(t, "tls", Set.of("cert_file", "key_file", "client_ca_file", "handshake_timeout"));
        Path cert = file(t, "tls.cert_file", "cert_file");
        Path key = file(t, "tls.key_file", "key_file");
        Path ca = file(t, "tls.client_ca_file", "client_ca_file");
        if (cert != null && key == null) {
            throw new ConfigException("tls.key_file", "must be given with tls.cert_file (the certificate's private "
                    + "key, PEM)");
        }
        if (key != null && cert == null) {
            throw new ConfigException("tls.cert_file", "must be given with tls.key_file (the server certificate, PEM)");
        }
        if (ca != null && cert == null) {
            throw new ConfigException("tls.client_ca_file", "needs tls.cert_file and tls.key_file: client "
                    + "certificates are checked only on a TLS listener");
        }
        Duration handshake = duration(t, "tls.handshake_timeout", "handshake_timeout",
                TlsConfig.DEFAULT_HANDSHAKE_TIMEOUT, Duration.ofMinutes(5));
        atLeast("tls.handshake_timeout", handshake, Duration.ofMillis(100));
        return new TlsConfig(cert, key, ca, handshake);
    }

    /** A file option: absolute, and readable now (its content is checked when the agent builds its TLS context). */
    private static Path file(JsonNode node, String option, String key) {
        String raw = text(node, option, key, null);
        if (raw == null) {
            return null;
        }
        Path p = Path.of(raw).toAbsolutePath().normalize();
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            throw new ConfigException(option, "'" + raw + "' is not a readable file");
        }
        return p;
    }

    /**
     * The bearer token must not cross a network in clear text by accident: a non-loopback address needs TLS or an
     * explicit {@code allow_insecure_http: true}.
     */
    private static void refuseClearText(String address, TlsConfig tls, boolean insecure) {
        if (!tls.enabled() && !insecure && !isLoopback(address)) {
            throw new ConfigException("listen_address", address + " is not a loopback address and the API would "
                    + "carry the bearer token in clear text; set tls.cert_file and tls.key_file (and "
                    + "tls.client_ca_file for client certificates), or allow_insecure_http: true to accept that");
        }
    }

    /** 127.0.0.0/8, ::1 or {@code localhost}; any other name counts as not loopback (no DNS lookup here). */
    public static boolean isLoopback(String address) {
        String a = address.toLowerCase(Locale.ROOT);
        if (a.equals("localhost") || a.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}")) {
            return true;
        }
        if (a.startsWith("[") && a.endsWith("]")) {
            a = a.substring(1, a.length() - 1);
        }
        if (!a.contains(":") || !a.matches("[0-9a-f:.]+")) {
            return false;
        }
        try {
            return java.net.InetAddress.getByName(a).isLoopbackAddress(); // an IPv6 literal: no lookup
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    private String owner() {
        String owner = text("owner", DriverContext.DEFAULT_OWNER);
        if (!DriverContext.isOwner(owner)) {
            throw new ConfigException("owner", "'" + owner + "' must be 1-63 characters of a-z, 0-9, '.', '_', '-' "
                    + "starting with a letter or digit (each agent sharing a dockerd needs its own)");
        }
        return owner;
    }

    private VifPluggingConfig vifPlugging() {
        Duration timeout = Duration.ofSeconds(300);
        JsonNode n = root.get("vif_plugging_timeout");
        if (n != null && !n.isNull()) {
            timeout = n.isValueNode() ? DriverConfig.parseDuration(n.asText().trim()) : null;
            if (timeout == null || timeout.isNegative() || timeout.compareTo(Duration.ofHours(1)) > 0) {
                throw new ConfigException("vif_plugging_timeout", "'" + n.asText() + "' must be a duration such as "
                        + "300s, 5m or 300 (seconds), at most 3600s; 0 = do not wait for the network to bind ports");
            }
        }
        return new VifPluggingConfig(timeout,
                bool(root, "vif_plugging_is_fatal", "vif_plugging_is_fatal", true));
    }

    private PlacementConfig placement() {
        String host = text("host", HostName.local());
        if (!host.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,199}")) {
            throw new ConfigException("host", "'" + host + "' must be 1-200 letters, digits and . _ - (a host name)");
        }
        Duration interval = duration("update_resources_interval", Duration.ofSeconds(60), Duration.ofDays(1));
        atLeast("update_resources_interval", interval, Duration.ofSeconds(1));
        JsonNode p = object("placement");
        unknown(p, "placement", Set.of("enabled", "url", "auth", "token", "timeout", "max_backoff"));
        boolean enabled = bool(p, "placement.enabled", "enabled", false);
        String rawUrl = text(p, "placement.url", "url", "http://127.0.0.1:8778");
        URI url;
        try {
            url = new URI(rawUrl.replaceAll("/+$", ""));
        } catch (URISyntaxException e) {
            url = null;
        }
        if (url == null || !("http".equals(url.getScheme()) || "https".equals(url.getScheme()))
                || url.getHost() == null || url.getRawQuery() != null || url.getRawFragment() != null
                || url.getRawUserInfo() != null) {
            throw new ConfigException("placement.url", "'" + rawUrl + "' must be an http:// or https:// URL with a "
                    + "host, no user, query or fragment, e.g. http://127.0.0.1:8778");
        }
        String auth = text(p, "placement.auth", "auth", "noauth2");
        if (!auth.equals("noauth2")) {
            throw new ConfigException("placement.auth", "'" + auth + "' must be noauth2 (the token is sent as "
                    + "X-Auth-Token, as user[:project])");
        }
        JsonNode t = p == null ? null : p.get("token");
        String token = "admin";
        if (t != null && !t.isNull()) {
            // never echo the value: it is a secret
            if (!t.isTextual() || !TOKEN.matcher(t.asText()).matches()) {
                throw new ConfigException("placement.token", "must be 1-256 printable characters without spaces "
                        + "(the value is not shown)");
            }
            token = t.asText();
        }
        Duration timeout = duration(p, "placement.timeout", "timeout", Duration.ofSeconds(10), Duration.ofMinutes(5));
        atLeast("placement.timeout", timeout, Duration.ofMillis(100));
        Duration backoff = duration(p, "placement.max_backoff", "max_backoff", Duration.ofSeconds(60),
                Duration.ofHours(1));
        return new PlacementConfig(host, interval, enabled, url, auth, token, timeout, backoff);
    }

    private static void atLeast(String option, Duration value, Duration min) {
        if (value.compareTo(min) < 0) {
            throw new ConfigException(option, value.toMillis() + " ms is below the minimum of " + min.toMillis()
                    + " ms");
        }
    }

    private Map<String, DriverSettings> drivers() {
        JsonNode drivers = object("drivers");
        Map<String, DriverSettings> out = new LinkedHashMap<>();
        if (drivers == null) {
            return out;
        }
        drivers.properties().forEach(f -> {
            String name = f.getKey();
            String prefix = "drivers." + name;
            if (!DRIVER_NAME.matcher(name).matches()) {
                throw new ConfigException(prefix, "a driver name must be letters, digits and . _ : @ -");
            }
            JsonNode d = f.getValue();
            if (d == null || d.isNull()) {
                out.put(name, new DriverSettings(true, Map.of()));
                return;
            }
            if (!d.isObject()) {
                throw new ConfigException(prefix, "must be a mapping with 'enabled' and 'options'");
            }
            unknown(d, prefix, Set.of("enabled", "options"));
            boolean enabled = bool(d, prefix + ".enabled", "enabled", true);
            Map<String, String> options = new LinkedHashMap<>();
            JsonNode opts = d.get("options");
            if (opts != null && !opts.isNull()) {
                if (!opts.isObject()) {
                    throw new ConfigException(prefix + ".options", "must be a mapping of option: value");
                }
                opts.properties().forEach(o -> {
                    if (o.getValue().isContainerNode()) {
                        throw new ConfigException(prefix + ".options." + o.getKey(), "must be a single value");
                    }
                    options.put(o.getKey(), o.getValue().asText());
                });
            }
            out.put(name, new DriverSettings(enabled, options));
        });
        return out;
    }

    private JsonNode object(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isObject()) {
            throw new ConfigException(key, "must be a mapping");
        }
        return n;
    }

    private static void unknown(JsonNode node, String prefix, Set<String> known) {
        if (node == null) {
            return;
        }
        node.fieldNames().forEachRemaining(k -> {
            if (!known.contains(k)) {
                throw new ConfigException(prefix + "." + k, "unknown option; known: " + String.join(", ", known));
            }
        });
    }

    private String text(String key, String fallback) {
        return text(root, key, key, fallback);
    }

    private static String text(JsonNode node, String option, String key, String fallback) {
        JsonNode n = node == null ? null : node.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isValueNode() || n.asText().isBlank()) {
            throw new ConfigException(option, "must be a non-empty text value");
        }
        return n.asText().trim();
    }

    private static boolean bool(JsonNode node, String option, String key, boolean fallback) {
        JsonNode n = node == null ? null : node.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isBoolean()) {
            throw new ConfigException(option, "'" + n.asText() + "' must be true or false");
        }
        return n.asBoolean();
    }

    private long integer(String key, long fallback, long min, long max) {
        return integer(root, key, key, fallback, min, max);
    }

    private static long integer(JsonNode node, String option, String key, long fallback, long min, long max) {
        JsonNode n = node == null ? null : node.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isIntegralNumber() || n.asLong() < min || n.asLong() > max) {
            throw new ConfigException(option, "'" + n.asText() + "' must be a whole number between " + min + " and "
                    + max);
        }
        return n.asLong();
    }

    private double ratio(String key, double fallback) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isNumber() || !(n.asDouble() > 0) || n.asDouble() > 1000 || Double.isNaN(n.asDouble())) {
            throw new ConfigException(key, "'" + n.asText() + "' must be a number greater than 0 and at most 1000");
        }
        return n.asDouble();
    }

    private RunningDeletedAction action() {
        String raw = text("running_deleted_instance_action", "log");
        try {
            return RunningDeletedAction.valueOf(raw.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("running_deleted_instance_action", "'" + raw + "' must be one of noop, log, shutdown, reap");
        }
    }

    private Duration duration(String key, Duration fallback, Duration max) {
        return duration(root, key, key, fallback, max);
    }

    private static Duration duration(JsonNode node, String option, String key, Duration fallback, Duration max) {
        JsonNode n = node == null ? null : node.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        Duration d = DriverConfig.parseDuration(n.asText().trim());
        if (d == null || d.isNegative() || d.isZero() || d.compareTo(max) > 0) {
            throw new ConfigException(option, "'" + n.asText() + "' must be a duration such as 500ms, 30s, 2m or PT30S, "
                    + "greater than 0 and at most " + max.toSeconds() + "s");
        }
        return d;
    }
}
