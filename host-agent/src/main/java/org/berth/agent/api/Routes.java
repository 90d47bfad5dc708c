package org.berth.agent.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.berth.agent.console.ConsoleService;
import org.berth.agent.console.SessionKind;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.berth.agent.capacity.CapacityService;
import org.berth.agent.capacity.HostStatus;
import org.berth.agent.config.AgentConfig;
import org.berth.agent.driver.Drivers;
import org.berth.agent.placement.PlacementReporter;
import org.berth.agent.placement.ReportState;
import org.berth.agent.stats.InstanceMetrics;
import org.berth.agent.stats.StatsSampler;
import org.berth.agent.store.FieldError;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.SpecJson;
import org.berth.agent.store.Store;
import org.berth.agent.task.Action;
import org.berth.agent.task.InstanceService;
import org.berth.agent.task.OperationStats;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.RebootType;
import org.berth.image.ManifestImageStore;

/** The REST API's routes. Runs on the API worker pool, never on the event loop. */
public final class Routes {
    private static final System.Logger LOG = System.getLogger(Routes.class.getName());
    private static final int DEFAULT_CONSOLE_BYTES = 64 * 1024;
    private static final Response HEALTHY = Response.json(200, Map.of("status", "ok")).shared();

    private final AgentConfig config;
    private final Store store;
    private final Drivers drivers;
    private final CapacityService capacity;
    private final ImageRoutes images;
    private final ReplicaRoutes replicas;
    private final InstanceService instances;
    private final OperationStats ops;
    private final LongSupplier sweeps;
    private final PlacementReporter placement;
    private final TokenAuth auth;
    private final ApiSecurity security;
    private final ConsoleRoutes consoles;
    private final StatsRoutes stats;
    private final org.berth.agent.metrics.Exposition metrics;
    final HttpStats http = new HttpStats();
    /** Rendered lists by driver filter ("" = all); keys are enabled driver names only, so the map stays small. */
    private final ConcurrentHashMap<String, CachedList> lists = new ConcurrentHashMap<>();

    public Routes(AgentConfig config, Store store, Drivers drivers, CapacityService capacity, ManifestImageStore images,
                  InstanceService instances, OperationStats ops, LongSupplier sweeps, PlacementReporter placement,
                  TokenAuth auth, ApiSecurity security, ConsoleService consoles, StatsSampler sampler) {
        this.config = config;
        this.store = store;
        this.drivers = drivers;
        this.capacity = capacity;
        this.images = new ImageRoutes(config, store, images);
        this.replicas = new ReplicaRoutes(org.berth.agent.replica.ReplicaStore.open(config.stateDir().resolve("replicas")),
                config.bridge());
        this.instances = instances;
        this.ops = ops;
        this.sweeps = sweeps;
        this.placement = placement;
        this.auth = auth;
        this.security = security;
        this.consoles = new ConsoleRoutes(consoles);
        this.stats = new StatsRoutes(sampler, instances, drivers, store);
        InstanceMetrics perInstance = new InstanceMetrics(sampler);
        this.metrics = new org.berth.agent.metrics.Exposition()
                .register(new AgentMetrics(store, capacity, drivers, ops, http, () -> instances.locks().count(), sweeps,
                        this::report, this.consoles::openSessions))
                .registerPerSample(perInstance, perInstance::exportKey);
        sampler.onSample(metrics::prepare);
    }

    ImageRoutes images() {
        return images;
    }

    Response handle(Request r) {
        String[] p = r.path().replaceAll("/+$", "").split("/");
        // p[0] is "" (leading slash)
        if (r.path().equals("/healthz")) {
            return only(r, "GET", () -> HEALTHY);
        }
        if (r.path().equals("/metrics")) {
            return only(r, "GET", this::metrics);
        }
        if (p.length < 3 || !p[1].equals("v1")) {
            throw notFound(r.path());
        }
        return switch (p[2]) {
            case "host" -> p.length == 3 ? only(r, "GET", this::host) : hostStatus(r, p);
            case "drivers" -> p.length == 3 ? only(r, "GET", this::drivers) : raise(notFound(r.path()));
            case "images" -> images.handle(r, p);
            case "instances" -> instances(r, p);
            case "replicas" -> replicas.handle(r, p);
            case "token" -> p.length == 4 && p[3].equals("rotate") ? only(r, "POST", () -> rotateToken(r))
                    : raise(notFound(r.path()));
            default -> throw notFound(r.path());
        };
    }

    private Response instances(Request r, String[] p) {
        if (p.length == 3) {
            return switch (r.method()) {
                case "GET" -> list(r);
                case "POST" -> spawn(r);
                default -> throw notAllowed(r, "GET, POST");
            };
        }
        if (p.length == 4 && p[3].equals("stats")) {
            return only(r, "GET", stats::list);
        }
        UUID uuid = uuidSegment(p[3]);
        if (p.length == 4) {
            return switch (r.method()) {
                case "GET" -> Response.json(200, Map.of("instance", Views.instance(instances.get(uuid))));
                case "DELETE" -> Response.json(202, Map.of("instance", Views.instance(instances.delete(uuid, r.requestId()))));
                default -> throw notAllowed(r, "GET, DELETE");
            };
        }
        if (p.length >= 5 && p[4].equals("interfaces")) {
            return interfaces(r, p, uuid);
        }
        if (p.length == 5) {
            return switch (p[4]) {
                case "action" -> only(r, "POST", () -> action(r, uuid));
                case "console" -> switch (r.method()) {
                    case "GET" -> console(r, uuid);
                    case "POST" -> consoles.ticket(r, uuid, SessionKind.CONSOLE);
                    default -> throw notAllowed(r, "GET, POST");
                };
                case "exec" -> only(r, "POST", () -> consoles.ticket(r, uuid, SessionKind.EXEC));
                case "events" -> only(r, "GET", () -> events(uuid));
                case "diagnostics" -> only(r, "GET", () -> stats.diagnostics(uuid));
                default -> throw notFound(r.path());
            };
        }
        throw notFound(r.path());
    }

    /**
     * The answer to {@code r} if it can be given without blocking (no store query, no driver call), else null: the
     * handler then answers on the event loop instead of handing the request to the worker pool. Only
     * {@code GET /healthz} and {@code GET /v1/instances[?driver=]} while its rendered list is current.
     */
    Response immediate(Request r) {
        if (!r.method().equals("GET")) {
            return null;
        }
        if (r.path().equals("/healthz")) {
            return HEALTHY;
        }
        if (!r.path().equals("/v1/instances") || r.query().size() > 1
                || (r.query().size() == 1 && r.param("driver") == null)) {
            return null;
        }
        String driver = r.param("driver");
        CachedList cached = lists.get(driver == null ? "" : driver);
        return cached != null && cached.isCurrent(store) ? cached.response() : null;
    }

    private Response list(Request r) {
        Optional<String> driver = Optional.ofNullable(r.param("driver"));
        driver.ifPresent(d -> {
            if (!drivers.enabled(d)) {
                throw new ApiError(400, "driver", "unknown_driver", "driver: '" + cut(d) + "' is not an enabled driver; enabled: "
                        + String.join(", ", drivers.names()));
            }
        });
        // The rendered list is kept per filter and rebuilt only after the store changed: a poller (scheduler,
        // dashboard) costs a version check instead of a query and 200 JSON renderings.
        String key = driver.orElse("");
        CachedList cached = lists.get(key);
        if (cached == null || !cached.isCurrent(store)) {
            long version = store.instancesVersion(); // read before the query: a racing write only makes it look older
            ArrayNode list = Views.MAPPER.createArrayNode();
            store.list(driver).forEach(x -> list.add(Views.instance(x, false)));
            ObjectNode n = Views.MAPPER.createObjectNode();
            n.set("instances", list);
            cached = new CachedList(version, Response.json(200, n).shared());
            lists.put(key, cached);
        }
        return cached.response();
    }

    /** A rendered {@code GET /v1/instances} answer and the store version it was read at; never mutated once built. */
    private record CachedList(long version, Response response) {
        boolean isCurrent(Store store) {
            return version == store.instancesVersion();
        }
    }

    private Response spawn(Request r) {
        requireJson(r);
        JsonNode body = Views.parse(r.body());
        if (!body.isObject()) {
            throw new ApiError(400, "body", "type", "body: must be a JSON object");
        }
        JsonNode d = body.get("driver");
        if (d == null || d.isNull()) {
            throw new ApiError(400, "driver", "required", "driver: must be given; enabled: " + String.join(", ", drivers.names()));
        }
        if (!d.isTextual() || !drivers.enabled(d.asText())) {
            throw new ApiError(400, "driver", "unknown_driver", "driver: '" + cut(d.asText())
                    + "' is not an enabled driver; enabled: " + String.join(", ", drivers.names()));
        }
        InstanceSpec spec = SpecJson.read(body, Set.of("driver", "migration"), config.bridge());
        var migration = arriving(body.get("migration"), spec);
        if (migration != null && migration.peer().equals(config.placement().host())) {
            throw new ApiError(400, "migration.source", "other_host", "migration.source: '" + migration.peer()
                    + "' is this host");
        }
        InstanceRecord rec = instances.spawn(d.asText(), spec, r.requestId(), migration);
        return Response.json(202, Map.of("instance", Views.instance(rec)))
                .withHeader("Location", "/v1/instances/" + rec.uuid());
    }

    private Response action(Request r, UUID uuid) {
        requireJson(r);
        JsonNode body = Views.parse(r.body());
        if (!body.isObject() || body.size() != 1) {
            throw new ApiError(400, "body", "one_action", "body: must be an object with exactly one action, e.g. "
                    + "{\"reboot\": {\"type\": \"HARD\"}}; actions: " + ACTIONS);
        }
        String verb = body.fieldNames().next();
        JsonNode arg = body.get(verb);
        InstanceRecord moved = moveAction(r, uuid, verb, arg);
        if (moved != null) {
            return Response.json(202, Map.of("instance", Views.instance(moved)));
        }
        Action action = switch (verb) {
            case "reboot" -> Action.reboot(rebootType(arg));
            case "pause" -> Action.pause();
            case "unpause" -> Action.unpause();
            case "suspend" -> Action.suspend();
            case "resume" -> Action.resume();
            case "stop", "os-stop" -> Action.stop();
            case "start", "os-start" -> Action.start();
            case "snapshot", "createImage" -> Action.snapshot(snapshotName(verb, arg));
            default -> throw new ApiError(400, verb, "unknown_action", verb.length() > 64 ? "unknown action"
                    : verb + ": unknown action; actions: " + ACTIONS);
        };
        if (!verb.equals("reboot") && !verb.equals("snapshot") && !verb.equals("createImage")
                && arg != null && !arg.isNull() && !(arg.isObject() && arg.isEmpty())) {
            throw new ApiError(400, verb, "no_arguments", verb + ": takes no arguments (use null or {})");
        }
        return Response.json(202, Map.of("instance", Views.instance(instances.act(uuid, action, r.requestId()))));
    }

    private static final String ACTIONS = "reboot, pause, unpause, suspend, resume, stop, start, snapshot, "
            + "migrate_out, confirm_migration, revert_migration, rebuild";
    /** A host name as Placement and OVN know it (the peer of a migration). */
    private static final java.util.regex.Pattern HOST = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,254}");

    /** The move actions (cold migration, resize, rebuild); null for any other verb. */
    private InstanceRecord moveAction(Request r, UUID uuid, String verb, JsonNode arg) {
        return switch (verb) {
            case "migrate_out" -> {
                JsonNode a = object(verb, arg, Set.of("migration_id", "destination"));
                JsonNode id = a.get("migration_id");
                if (id == null || !id.isTextual() || !SpecJson.isUuid(id.asText())) {
                    throw new ApiError(400, "migrate_out.migration_id", id == null ? "required" : "uuid",
                            "migrate_out.migration_id: must be given as a UUID (the migration's id)");
                }
                if (id.asText().equalsIgnoreCase(uuid.toString())) {
                    // the migration consumer must not be the instance's own consumer (as spawn's migration.id)
                    throw new ApiError(400, "migrate_out.migration_id", "distinct",
                            "migrate_out.migration_id: must differ from the instance's uuid");
                }
                String dest = hostName(a.get("destination"), "migrate_out.destination");
                if (dest.equals(config.placement().host())) {
                    throw new ApiError(400, "migrate_out.destination", "other_host", "migrate_out.destination: '"
                            + dest + "' is this host; a move on the same host is a rebuild");
                }
                yield instances.migrateOut(uuid, UUID.fromString(id.asText()), dest, r.requestId());
            }
            case "confirm_migration", "confirmResize" -> {
                object(verb, arg, Set.of());
                yield instances.confirmMigration(uuid, r.requestId());
            }
            case "revert_migration", "revertResize" -> {
                object(verb, arg, Set.of());
                yield instances.revertMigration(uuid, r.requestId());
            }
            case "rebuild" -> {
                JsonNode a = object(verb, arg, Set.of("image_id", "imageRef"));
                if (a.has("image_id") && a.has("imageRef")) {
                    throw new ApiError(400, "rebuild", "one_of", "rebuild: give image_id or imageRef (Nova's "
                            + "name), not both");
                }
                JsonNode img = a.has("image_id") ? a.get("image_id") : a.get("imageRef");
                String field = a.has("image_id") ? "rebuild.image_id" : "rebuild.imageRef";
                if (img != null && !img.isNull() && (!img.isTextual() || !SpecJson.isUuid(img.asText()))) {
                    throw new ApiError(400, field, "uuid", field + ": must be an image id (a UUID)");
                }
                yield instances.rebuild(uuid, img == null || img.isNull() ? null
                        : img.asText().toLowerCase(Locale.ROOT), r.requestId());
            }
            default -> null;
        };
    }

    /** An action's argument: null or an object whose fields are among {@code allowed}. */
    private static JsonNode object(String verb, JsonNode arg, Set<String> allowed) {
        if (arg == null || arg.isNull()) {
            return Views.MAPPER.createObjectNode();
        }
        if (!arg.isObject()) {
            throw new ApiError(400, verb, "type", verb + ": must be an object" + (allowed.isEmpty()
                    ? " (use {} or null)" : " with " + String.join(", ", allowed.stream().sorted().toList())));
        }
        arg.fieldNames().forEachRemaining(k -> {
            if (!allowed.contains(k)) {
                throw new ApiError(400, verb + "." + cut(k), "unknown_field", verb + "." + cut(k) + ": is not a field of "
                        + verb + (allowed.isEmpty() ? ", which takes none" : "; fields: "
                        + String.join(", ", allowed.stream().sorted().toList())));
            }
        });
        return arg;
    }

    static String hostName(JsonNode v, String field) {
        if (v == null || v.isNull()) {
            throw new ApiError(400, field, "required", field + ": must be given (a host name, as in Placement)");
        }
        if (!v.isTextual() || !HOST.matcher(v.asText()).matches()) {
            throw new ApiError(400, field, "host_name", field + ": '" + cut(v.asText()) + "' must be 1-255 letters, "
                    + "digits and . _ - starting with a letter or digit");
        }
        return v.asText();
    }

    /** The spawn body's {@code "migration": {"id", "source"}}: the instance arrives as a move's destination. */
    private static org.berth.agent.store.Migration arriving(JsonNode m, InstanceSpec spec) {
        if (m == null || m.isNull()) {
            return null;
        }
        object("migration", m, Set.of("id", "source"));
        JsonNode id = m.get("id");
        if (id == null || !id.isTextual() || !SpecJson.isUuid(id.asText())) {
            throw new ApiError(400, "migration.id", id == null ? "required" : "uuid",
                    "migration.id: must be given as a UUID (the migration's id)");
        }
        if (id.asText().equalsIgnoreCase(spec.uuid().toString())) {
            throw new ApiError(400, "migration.id", "distinct", "migration.id: must differ from the instance's uuid");
        }
        String source = hostName(m.get("source"), "migration.source");
        return new org.berth.agent.store.Migration(UUID.fromString(id.asText()),
                org.berth.agent.store.Migration.Role.DESTINATION, source, spec.imageId(), null);
    }

    private Response interfaces(Request r, String[] p, UUID uuid) {
        Action action;
        if (p.length == 5) {
            if (!r.method().equals("POST")) {
                throw notAllowed(r, "POST");
            }
            requireJson(r);
            action = Action.attachInterface(SpecJson.readVif(Views.parse(r.body()), config.bridge()));
        } else if (p.length == 6) {
            if (!r.method().equals("DELETE")) {
                throw notAllowed(r, "DELETE");
            }
            if (!SpecJson.isUuid(p[5])) {
                throw new ApiError(400, "port_id", "uuid", "port_id: '" + cut(p[5]) + "' must be a UUID");
            }
            action = Action.detachInterface(p[5].toLowerCase(Locale.ROOT));
        } else {
            throw notFound(r.path());
        }
        return Response.json(202, Map.of("instance", Views.instance(instances.act(uuid, action, r.requestId()))));
    }

    private static RebootType rebootType(JsonNode arg) {
        if (arg == null || !arg.isObject() || !arg.has("type") || arg.size() != 1 || !arg.get("type").isTextual()) {
            throw new ApiError(400, "reboot.type", "required", "reboot.type: must be given as SOFT or HARD, "
                    + "e.g. {\"reboot\": {\"type\": \"HARD\"}}");
        }
        try {
            return RebootType.valueOf(arg.get("type").asText().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ApiError(400, "reboot.type", "enum", "reboot.type: '" + cut(arg.get("type").asText())
                    + "' must be SOFT or HARD");
        }
    }

    private static String snapshotName(String verb, JsonNode arg) {
        if (arg == null || !arg.isObject() || !arg.path("name").isTextual() || arg.size() != 1) {
            throw new ApiError(400, verb + ".name", "required", verb + ".name: must be given, e.g. {\"" + verb
                    + "\": {\"name\": \"my-snapshot\"}}");
        }
        String name = arg.get("name").asText();
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}")) {
            throw new ApiError(400, verb + ".name", "name", verb + ".name: '" + cut(name)
                    + "' must be 1-255 letters, digits and . _ : @ - starting with a letter or digit");
        }
        return name;
    }

    private Response console(Request r, UUID uuid) {
        int bytes = DEFAULT_CONSOLE_BYTES;
        String raw = r.param("bytes");
        if (raw != null) {
            try {
                bytes = Integer.parseInt(raw);
            } catch (NumberFormatException e) {
                bytes = -1;
            }
            if (bytes < 1 || bytes > 1024 * 1024) {
                throw new ApiError(400, "bytes", "range", "bytes: '" + cut(raw) + "' must be between 1 and 1048576");
            }
        }
        byte[] tail = instances.console(uuid, bytes);
        return new Response(200, "text/plain; charset=utf-8", tail, Map.of());
    }

    private Response events(UUID uuid) {
        instances.get(uuid);
        ArrayNode list = Views.MAPPER.createArrayNode();
        store.events(uuid, 200).forEach(e -> list.add(Views.event(e)));
        ObjectNode n = Views.MAPPER.createObjectNode();
        n.set("events", list);
        return Response.json(200, n);
    }

    private Response host() {
        ObjectNode host = Views.host(capacity.refresh(), config.cpuAllocationRatio(), config.ramAllocationRatio(),
                config.diskAllocationRatio(), config.reservedHostMemoryMb());
        Views.status(host, capacity.status().status(), config.placement().host(), report());
        ObjectNode api = host.putObject("api");
        api.put("tls", security.tls());
        api.put("client_certificates_required", security.clientCertificatesRequired());
        return Response.json(200, Map.of("host", host));
    }

    /**
     * POST /v1/token/rotate: a new token in the token file, the old one refused from the next request on. The new
     * token is in the answer only where nobody on the path can read it (TLS, or a loopback peer); otherwise the
     * caller reads the file.
     */
    private Response rotateToken(Request r) {
        String token = auth.rotate();
        LOG.log(System.Logger.Level.INFO, r.requestId()
                + " token rotated: " + auth.file() + " holds the new token, the old one is refused from now on");
        ObjectNode n = Views.MAPPER.createObjectNode();
        n.put("token_file", auth.file().toString());
        if (r.confidential()) {
            n.put("token", token);
        }
        return Response.json(200, n).withHeader("Cache-Control", "no-store");
    }

    private ReportState report() {
        return placement == null ? ReportState.off() : placement.state();
    }

    /** POST /v1/host/disable {"disabled_reason": R} and POST /v1/host/enable (Nova's os-services vocabulary). */
    private Response hostStatus(Request r, String[] p) {
        if (p.length != 4 || !(p[3].equals("disable") || p[3].equals("enable"))) {
            throw notFound(r.path());
        }
        return only(r, "POST", () -> {
            HostStatus status = capacity.status();
            if (p[3].equals("disable")) {
                requireJson(r);
                JsonNode body = Views.parse(r.body());
                JsonNode reason = body.path("disabled_reason");
                if (!body.isObject() || !reason.isTextual() || reason.asText().isBlank() || body.size() != 1) {
                    throw new ApiError(400, "disabled_reason", "required", "disabled_reason: must be given as the "
                            + "only field, e.g. {\"disabled_reason\": \"kernel upgrade\"}");
                }
                String why = reason.asText().strip();
                if (why.length() > 255 || why.chars().anyMatch(Character::isISOControl)) {
                    throw new ApiError(400, "disabled_reason", "text", "disabled_reason: must be at most 255 "
                            + "characters without control characters");
                }
                status.disable(why);
            } else {
                status.enable();
            }
            if (placement != null) {
                placement.requestSync();
            }
            ObjectNode n = Views.MAPPER.createObjectNode();
            Views.status(n, status.status(), config.placement().host(), report());
            return Response.json(200, Map.of("host", n));
        });
    }

    private Response drivers() {
        ArrayNode list = Views.MAPPER.createArrayNode();
        drivers.states().forEach(s -> list.add(Views.driver(s)));
        ObjectNode n = Views.MAPPER.createObjectNode();
        n.set("drivers", list);
        return Response.json(200, n);
    }

    /** No driver call: capacity as of its last refresh, instance figures from the last sample. */
    private Response metrics() {
        return new Response(200, metrics.contentType(), metrics.scrape(), Map.of());
    }

    static void requireJson(Request r) {
        String ct = r.contentType();
        if (ct != null && !ct.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            throw new ApiError(415, "Content-Type", "json", "Content-Type: '" + cut(ct) + "' must be application/json");
        }
    }

    static UUID uuidSegment(String s) {
        if (!SpecJson.isUuid(s)) {
            throw new FieldError("uuid", "uuid", "'" + cut(s) + "' must be a UUID (8-4-4-4-12 hex digits)");
        }
        return UUID.fromString(s);
    }

    static Response only(Request r, String method, java.util.function.Supplier<Response> s) {
        if (!r.method().equals(method)) {
            throw notAllowed(r, method);
        }
        return s.get();
    }

    static ApiError notFound(String path) {
        return new ApiError(404, "path", "not_found", "no such resource: " + cut(path));
    }

    static ApiError notAllowed(Request r, String allowed) {
        return new ApiError(405, "method", "not_allowed", r.method() + " is not allowed here; allowed: " + allowed);
    }

    private static Response raise(ApiError e) {
        throw e;
    }

    static String cut(String s) {
        String c = s.length() > 64 ? s.substring(0, 64) + "…" : s;
        return c.replaceAll("\\p{Cntrl}", "?");
    }

}
