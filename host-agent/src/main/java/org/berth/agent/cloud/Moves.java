package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import org.berth.agent.capacity.CapacityService;
import org.berth.agent.cli.CliException;
import org.berth.agent.placement.Traits;
import org.berth.driver.api.Flavor;

/**
 * The conductor of cold migration, resize, confirm, revert and rebuild (Nova's conductor + compute manager flow, run by
 * a stateless CLI). Placement moves the source's usage to the migration consumer and claims the destination in one
 * request; the source agent stops the instance, unplugs its VIFs and snapshots its disk ({@code migrate_out}); the
 * image is streamed from the source's download into the destination's upload; the destination spawns the instance
 * with the same uuid, ports, MACs and addresses, marked as the migration's destination. Confirm frees the source,
 * revert goes back. Every step that fails is rolled back (Placement back, the source powered on again) and named.
 */
public final class Moves {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Nova's alternates: at most this many destinations are tried for one move. */
    private static final int MAX_HOSTS = 3;
    /** How long a move waits for a new instance's allocation to reach Placement before deciding. */
    private static final java.time.Duration REPORT_WAIT = java.time.Duration.ofSeconds(10);
    /** The property naming the image a moved instance was first built from (Nova's image_base_image_ref). */
    public static final String BASE_IMAGE_REF = "base_image_ref";

    private final CloudCommand.Cloud cloud;
    private final MovePlacement placement;
    private final Duration wait;
    private final Consumer<String> say;
    private final MoveHook hook;

    /**
     * @param wait bound on each wait for an agent's task (--wait-timeout)
     * @param say  where progress lines go (the terminal; nothing under --json)
     * @param hook told when an instance settled on a host (after confirm, revert, rebuild)
     */
    public Moves(CloudCommand.Cloud cloud, Duration wait, Consumer<String> say, MoveHook hook) {
        this.cloud = cloud;
        this.placement = new MovePlacement(cloud.placement());
        this.wait = wait;
        this.say = say;
        this.hook = hook;
    }

    /** What a move did. */
    public record Moved(String action, UUID instance, UUID migration, String source, String destination,
                        String flavor, long imageBytes, double seconds, String warning) {
        Moved(String action, UUID instance, UUID migration, String source, String destination, String flavor,
              long imageBytes, double seconds) {
            this(action, instance, migration, source, destination, flavor, imageBytes, seconds, "");
        }

        public ObjectNode toJson() {
            ObjectNode n = JSON.createObjectNode();
            if (!warning.isEmpty()) {
                n.put("warning", warning);
            }
            n.put("action", action).put("instance", instance.toString())
                    .put("migration", migration == null ? null : migration.toString()).put("source", source)
                    .put("destination", destination).put("flavor", flavor).put("image_bytes", imageBytes)
                    .put("seconds", Math.round(seconds * 100) / 100.0);
            return n;
        }
    }

    // ---- migrate and resize ----

    /**
     * Migrates (flavor null) or resizes the instance to {@code host} (null: Placement's best candidate), or finishes
     * a move of it that was cut off.
     */
    public Moved migrate(UUID uuid, String host, Flavor flavor) {
        long t0 = System.nanoTime();
        MoveState state = MoveState.read(cloud, uuid);
        MoveState.Held marked = state.source();
        state.requirePeerAnswered(marked, "migrate");
        state.requirePeerAnswered(state.destination(), "migrate");
        if (marked != null) {
            if (host != null && !host.equals(marked.peer())) {
                throw new IllegalArgumentException("--host: instance " + uuid + " is in migration " + marked.migration()
                        + " to " + marked.peer() + "; finish it (berth cloud migrate " + uuid + ") or revert it first");
            }
            return resume(state, marked, flavor, t0);
        }
        if (state.destination() != null) {
            throw new CliException.Failed("instance " + uuid + ": migration " + state.destination().migration()
                    + " left it on " + state.destination().host() + " with the source's copy gone; finish it: "
                    + "berth cloud confirm " + uuid);
        }
        MoveState.Held src = state.settled();
        if (!src.idle() || !List.of("active", "stopped").contains(src.vmState())) {
            throw new CliException.Failed("instance " + uuid + " on " + src.describe() + ": only an active or "
                    + "stopped instance with no task can be moved");
        }
        JsonNode spec = src.record().path("spec");
        Flavor old = flavor(spec.path("flavor"));
        Flavor target = flavor == null ? old : flavor;
        UUID srcRp = providerOf(src.host());
        CloudPlacement.Consumer now = reported(uuid);
        requireOnlyOn(uuid, now, srcRp, src.host());
        Map<UUID, Map<String, Long>> sourceAllocations = now.allocations().isEmpty()
                ? Map.of(srcRp, resources(old)) : now.allocations();
        Map<String, Long> wanted = flavor == null && sourceAllocations.containsKey(srcRp)
                ? sourceAllocations.get(srcRp) : resources(target);
        String driver = src.record().path("driver").asText();
        UUID m = UUID.randomUUID();
        String dest = null;
        for (String candidate : destinations(src.host(), srcRp, host, wanted, driver)) {
            if (placement.moveToMigration(uuid, now, m, sourceAllocations, providerOf(candidate), wanted)) {
                dest = candidate;
                break;
            }
            say.accept("Placement: " + candidate + " is full now (another claim won); trying the next host");
        }
        if (dest == null) {
            throw new CliException.Failed("no valid host: every candidate for " + amounts(wanted)
                    + " filled up while claiming" + (host == null ? "" : " (--host " + host + ")"));
        }
        say.accept("migration " + m + ": " + uuid + " from " + src.host() + " to " + dest + " (flavor "
                + target.name() + "); Placement: source usage moved to the migration, " + dest + " claimed");
        boolean wasActive = "active".equals(src.vmState());
        migrateOut(src.host(), uuid, m, dest, Map.of(providerOf(dest), wanted), sourceAllocations);
        return finishOnDestination(uuid, m, src, dest, target, wasActive, t0);
    }

    /** A move cut off: goes on from the source's finished {@code migrate_out}, or says what to run. */
    private Moved resume(MoveState state, MoveState.Held src, Flavor flavor, long t0) {
        UUID uuid = state.instance();
        UUID m = src.migration();
        MoveState.Held dst = state.destination();
        if (dst != null) {
            String next = "error".equals(dst.vmState()) ? "berth cloud revert " + uuid
                    : "berth cloud confirm " + uuid + " (or berth cloud revert " + uuid + ")";
            throw new CliException.Failed("instance " + uuid + ": migration " + m + " from " + src.host() + " to "
                    + dst.host() + " has its destination copy: " + dst.describe() + "; run " + next);
        }
        if (!src.idle() || src.imageId() == null) {
            throw new CliException.Failed("instance " + uuid + ": migration " + m + "'s migrate_out on "
                    + src.describe() + " has not finished; wait for it or run berth cloud revert " + uuid);
        }
        String dest = src.peer();
        say.accept("migration " + m + " of " + uuid + " was cut off after migrate_out on " + src.host()
                + "; going on to " + dest);
        JsonNode spec = src.record().path("spec");
        Flavor target = flavor == null ? flavor(spec.path("flavor")) : flavor;
        // the source's agent moves its usage to the migration's consumer by itself once its marker is written:
        // only if it has not (Placement off there, or slow) does the conductor move it
        if (reported(m).allocations().isEmpty()) {
            CloudPlacement.Consumer now = placement.consumer(uuid);
            if (!placement.moveToMigration(uuid, now, m, now.allocations(), providerOf(dest), resources(target))) {
                throw new CliException.Failed("no valid host: " + dest + " has no room for " + amounts(resources(target))
                        + " any more; run berth cloud revert " + uuid);
            }
        }
        // powered on only if it ran when migrate_out stopped it (the source's marker says; the spec's power_on is
        // what it was spawned with, not how it was left)
        boolean wasActive = src.record().path("migration").path("was_active").asBoolean(false);
        return finishOnDestination(uuid, m, src, dest, target, wasActive, t0);
    }

    /**
     * The consumer once the source's agent has reported it: a spawn's allocation (or a migration source's usage under
     * the migration's consumer) reaches Placement a moment after the agent recorded it (~0.3 s), and a move decided on
     * an empty consumer would lose its write to that report (a generation conflict read as "changed meanwhile").
     * Waits at most {@link #REPORT_WAIT}; a host that reports nothing (Placement off there) leaves it empty.
     */
    private CloudPlacement.Consumer reported(UUID uuid) {
        long deadline = System.nanoTime() + REPORT_WAIT.toNanos();
        CloudPlacement.Consumer now = placement.consumer(uuid);
        while (now.allocations().isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CliException.Failed("interrupted while waiting for instance " + uuid + "'s allocation");
            }
            now = placement.consumer(uuid);
        }
        return now;
    }

    /**
     * Refuses a move while the instance's consumer holds a part on a provider other than its host's: an evacuated
     * instance whose dead source still holds its part (moving both parts into the migration and confirming would drop
     * that host's part, and the returning host would then keep and start its stale copy), or another move's claim.
     */
    private void requireOnlyOn(UUID uuid, CloudPlacement.Consumer now, UUID srcRp, String src) {
        List<UUID> others = now.allocations().keySet().stream().filter(rp -> !rp.equals(srcRp)).toList();
        if (others.isEmpty()) {
            return;
        }
        Map<UUID, String> names = new LinkedHashMap<>();
        cloud.placement().providers().forEach(p -> names.put(p.uuid(), p.name()));
        String other = names.getOrDefault(others.get(0), others.get(0).toString());
        if (now.allocations().containsKey(srcRp)) {
            throw new CliException.Failed("instance " + uuid + " still holds a part on " + other + " (evacuated from it "
                    + "while " + other + " was down); bring " + other + " back first");
        }
        throw new CliException.Failed("instance " + uuid + "'s allocations are on " + other + ", not on its host " + src
                + " (another move?); run berth cloud migrate " + uuid + " again once it settles");
    }

    /**
     * migrate_out on the source; on a failure Placement is given back only as far as this move wrote it
     * ({@code claimed} for the instance, {@code held} in the migration consumer): a source refusing because another
     * move holds it (409 in_migration) must not undo that move's claims.
     */
    private void migrateOut(String src, UUID uuid, UUID m, String dest, Map<UUID, Map<String, Long>> claimed,
                            Map<UUID, Map<String, Long>> held) {
        AgentCalls a = cloud.agent(src);
        JsonNode done;
        try {
            act(a, uuid, "migrate_out", JSON.createObjectNode().put("migration_id", m.toString())
                    .put("destination", dest));
            done = a.await(uuid, wait, false);
        } catch (CliException e) {
            throw new CliException.Failed("migration " + m + ": migrate_out on " + src + " failed: "
                    + e.getMessage() + "; " + giveBack(uuid, m, claimed, held) + hint(uuid, src));
        }
        JsonNode marker = done.path("migration");
        if (!marker.isObject() || !marker.path("image_id").isTextual()) {
            throw new CliException.Failed("migration " + m + ": migrate_out on " + src + " failed: "
                    + done.path("fault").asText("-") + "; the agent rolled it back (vm_state "
                    + done.path("vm_state").asText() + "); " + giveBack(uuid, m, claimed, held));
        }
        say.accept(src + ": migrate_out done (stopped, VIFs unplugged, image " + marker.path("image_id").asText() + ")");
    }

    /** Carries the image, spawns on the destination and waits; rolls everything back on a failure. */
    private Moved finishOnDestination(UUID uuid, UUID m, MoveState.Held source, String dest, Flavor target,
                                      boolean powerOn, long t0) {
        String src = source.host();
        JsonNode spec = source.record().path("spec");
        AgentCalls from = cloud.agent(src);
        AgentCalls to = cloud.agent(dest);
        String image = from.instance(uuid).path("migration").path("image_id").asText();
        ImageCarry.Carried copy;
        try {
            copy = ImageCarry.carry(from, to, image);
            say.accept("image " + image + " carried " + src + " -> " + dest + " as " + copy.id() + " ("
                    + copy.bytes() + " bytes)");
            ObjectNode body = spec.deepCopy();
            body.put("image_id", copy.id()).put("driver", source.record().path("driver").asText())
                    .put("power_on", powerOn);
            body.set("flavor", flavorJson(target));
            // Nova's base_image_ref: the image the instance was built from, which the carried image is not (an
            // evacuation rebuilds from it where the carried image never went)
            ObjectNode props = body.has("properties") && body.get("properties").isObject()
                    ? (ObjectNode) body.get("properties") : body.putObject("properties");
            if (!props.has(BASE_IMAGE_REF)) {
                props.put(BASE_IMAGE_REF, spec.path("image_id").asText());
            }
            body.putObject("migration").put("id", m.toString()).put("source", src);
            to.spawn(body);
            JsonNode there = to.await(uuid, wait, false);
            String want = powerOn ? "active" : "stopped";
            if (!want.equals(there.path("vm_state").asText())) {
                throw new CliException.Failed(dest + ": the spawn ended " + there.path("vm_state").asText()
                        + ": " + there.path("fault").asText("-"));
            }
        } catch (CliException e) {
            String undone = rollBack(uuid, m, src, dest);
            throw new CliException.Failed("migration " + m + " of " + uuid + " to " + dest + " failed: "
                    + e.getMessage() + "; " + undone);
        }
        double s = (System.nanoTime() - t0) / 1e9;
        say.accept(dest + ": " + uuid + " " + (powerOn ? "active" : "stopped") + " (migration " + m + "), "
                + String.format("%.1f s", s) + "; now: berth cloud confirm " + uuid + " (or berth cloud revert " + uuid
                + ")");
        return new Moved(target.equals(flavor(spec.path("flavor"))) ? "migrate" : "resize", uuid, m, src, dest,
                target.name(), copy.bytes(), s);
    }

    /**
     * Undoes a move after migrate_out: the destination's copy and image, Placement, the source powered on again.
     * Placement and the source are undone only once the destination's copy is known gone: a spawn still running there
     * (past --wait-timeout) would otherwise finish next to the source powered on again.
     */
    private String rollBack(UUID uuid, UUID m, String src, String dest) {
        List<String> done = new ArrayList<>();
        AgentCalls d = cloud.agent(dest);
        try {
            JsonNode there = d.instance(uuid);
            if (there != null && !m.toString().equals(there.path("migration").path("id").asText())) {
                // not this migration's: the destination refused our spawn, so our copy never was there
                done.add(dest + "'s instance " + uuid + " is not this migration's; left alone");
            } else if (deleteCopy(d, uuid, m)) {
                done.add(dest + "'s copy deleted");
            }
        } catch (CliException e) {
            return "not rolled back: " + dest + "'s copy is not known gone (" + e.getMessage() + "); the copy may still"
                    + " be building on " + dest + "; run berth cloud revert " + uuid + " (again) once it settles ("
                    + src + " stays stopped, Placement as it is)";
        }
        try {
            done.add(ImageCarry.deleteNamed(d, org.berth.agent.store.Migration.imageName(m)) + " image(s) deleted on "
                    + dest);
        } catch (CliException e) {
            done.add(dest + "'s image not deleted: " + e.getMessage());
        }
        done.add(placementBack(uuid, m));
        try {
            revertOnSource(uuid, src);
            done.add(src + " reverted");
        } catch (CliException e) {
            done.add(src + " not reverted (" + e.getMessage() + "): berth cloud revert " + uuid);
        }
        return "rolled back: " + String.join(", ", done);
    }

    /**
     * Deletes the destination's copy of migration {@code m} and waits until it is gone; false when the host has none.
     * An instance of that uuid there that this migration did not make (another migration's, or one spawned there by
     * hand) is never touched: an error names it.
     */
    private boolean deleteCopy(AgentCalls d, UUID uuid, UUID m) {
        JsonNode there = d.instance(uuid);
        if (there == null) {
            return false;
        }
        if (!m.toString().equals(there.path("migration").path("id").asText())) {
            throw new CliException.Failed(d.host().name() + " holds an instance " + uuid + " that migration " + m
                    + " did not make (migration: " + there.path("migration") + "); left alone");
        }
        return d.deleteAndWait(uuid, wait);
    }

    private String placementBack(UUID uuid, UUID m) {
        try {
            placement.moveBack(uuid, m);
            return "Placement moved back";
        } catch (RuntimeException e) {
            return "Placement not moved back (" + e.getMessage() + "): berth cloud revert " + uuid;
        }
    }

    private String giveBack(UUID uuid, UUID m, Map<UUID, Map<String, Long>> claimed,
                            Map<UUID, Map<String, Long>> held) {
        try {
            return placement.giveBack(uuid, m, claimed, held) ? "Placement moved back"
                    : "Placement left as it is (migration " + m + " or instance " + uuid + " changed meanwhile: "
                    + "another move's allocations are not this move's to undo)";
        } catch (RuntimeException e) {
            return "Placement not moved back (" + e.getMessage() + "): berth cloud revert " + uuid;
        }
    }

    private static String hint(UUID uuid, String src) {
        return "; if " + src + " still shows the migration, run berth cloud revert " + uuid;
    }

    /** The hosts to try: --host, or Placement's candidates other than the source, weighed as the scheduler does. */
    private List<String> destinations(String src, UUID srcRp, String host, Map<String, Long> wanted, String driver) {
        if (host != null) {
            cloud.hosts().host(host);
            if (host.equals(src)) {
                throw new IllegalArgumentException("--host: '" + host + "' is the instance's host; a migration goes "
                        + "to another host (a rebuild stays on the same host)");
            }
            return List.of(host);
        }
        String trait = Traits.driverTrait(driver);
        CloudPlacement.Candidates c = cloud.placement().candidates(wanted, List.of(trait), 50);
        Map<UUID, String> names = new LinkedHashMap<>();
        cloud.placement().providers().forEach(p -> names.put(p.uuid(), p.name()));
        List<String> out = Scheduler.weigh(c, ThreadLocalRandom.current()).stream()
                .map(CloudPlacement.Candidate::provider).distinct()
                .filter(p -> !p.equals(srcRp) && names.containsKey(p) && cloud.hosts().find(names.get(p)).isPresent())
                .limit(MAX_HOSTS).map(names::get).toList();
        if (out.isEmpty()) {
            throw new CliException.Failed("no valid host: no host other than " + src + " has " + amounts(wanted)
                    + " free with trait " + trait);
        }
        return out;
    }

    // ---- confirm and revert ----

    /** Confirms the instance's migration: the source's copy and image go, the migration consumer's usage is freed. */
    public Moved confirm(UUID uuid) {
        long t0 = System.nanoTime();
        MoveState state = MoveState.read(cloud, uuid);
        MoveState.Held src = state.source();
        MoveState.Held dst = state.destination();
        state.requirePeerAnswered(src, "confirm");
        state.requirePeerAnswered(dst, "confirm");
        if (dst == null) {
            throw new CliException.Failed("instance " + uuid + ": no destination copy in a migration ("
                    + (src == null ? "no migration: " + state.describeAll() : "run berth cloud migrate " + uuid
                    + " to finish migration " + src.migration() + ", or berth cloud revert " + uuid)
                    + ")" + state.unreachableNote());
        }
        if (!dst.idle() || !List.of("active", "stopped").contains(dst.vmState())) {
            throw new CliException.Failed("instance " + uuid + ": the destination copy is " + dst.describe()
                    + "; only a running or stopped one can be confirmed (berth cloud revert " + uuid + ")");
        }
        UUID m = dst.migration();
        String source = src != null ? src.host() : dst.peer();
        if (src != null) {
            AgentCalls a = cloud.agent(src.host());
            act(a, uuid, "confirm_migration", JSON.createObjectNode());
            a.await(uuid, wait, true);
            say.accept(src.host() + ": source copy and image " + src.imageId() + " destroyed");
        }
        act(cloud.agent(dst.host()), uuid, "confirm_migration", JSON.createObjectNode());
        boolean freed = placement.dropMigration(m);
        say.accept(dst.host() + ": migration marker cleared; Placement: migration " + m + (freed ? " freed" : " had "
                + "nothing left"));
        return new Moved("confirm", uuid, m, source, dst.host(), dst.record().at("/spec/flavor/name").asText(), 0,
                (System.nanoTime() - t0) / 1e9, settled(uuid, dst.host()));
    }

    /** {@code POST /v1/instances/{uuid}/action {verb: arg}}. */
    private static void act(AgentCalls a, UUID uuid, String verb, ObjectNode arg) {
        ObjectNode body = JSON.createObjectNode();
        body.set(verb, arg);
        a.api().post(AgentCalls.path(uuid) + "/action", body);
    }

    /** Reverts the instance's migration: the destination's copy goes, Placement moves back, the source runs again. */
    public Moved revert(UUID uuid) {
        long t0 = System.nanoTime();
        MoveState state = MoveState.read(cloud, uuid);
        MoveState.Held src = state.source();
        MoveState.Held dst = state.destination();
        state.requirePeerAnswered(src, "revert");
        state.requirePeerAnswered(dst, "revert");
        if (src == null) {
            throw new CliException.Failed("instance " + uuid + ": no source copy to revert to ("
                    + (dst == null ? "no migration: " + state.describeAll() : "confirmed on " + dst.peer()
                    + " already; finish it: berth cloud confirm " + uuid) + ")" + state.unreachableNote());
        }
        UUID m = src.migration();
        String dest = src.peer();
        if (!src.idle()) {
            cloud.agent(src.host()).await(uuid, wait, false);
        }
        AgentCalls d = cloud.agent(dest);
        try {
            if (deleteCopy(d, uuid, m)) {
                say.accept(dest + ": destination copy deleted");
            }
        } catch (CliException.Unreachable e) {
            throw new CliException.Failed("instance " + uuid + ": " + dest + "'s copy is not gone (" + e.getMessage()
                    + "); the copy may still be building on " + dest + "; run berth cloud revert " + uuid
                    + " (again) once it settles");
        }
        int images = ImageCarry.deleteNamed(d, org.berth.agent.store.Migration.imageName(m));
        placement.moveBack(uuid, m);
        say.accept("Placement: migration " + m + "'s allocations moved back to " + uuid
                + (images > 0 ? "; " + dest + "'s copy of the image deleted" : ""));
        JsonNode back = revertOnSource(uuid, src.host());
        say.accept(src.host() + ": " + uuid + " " + back.path("vm_state").asText() + " again");
        return new Moved("revert", uuid, m, src.host(), dest, back.at("/spec/flavor/name").asText(), 0,
                (System.nanoTime() - t0) / 1e9, settled(uuid, src.host()));
    }

    /** revert_migration on the source (if it still has the marker) and its wait. */
    private JsonNode revertOnSource(UUID uuid, String src) {
        AgentCalls a = cloud.agent(src);
        JsonNode r = a.await(uuid, wait, false);
        if (r.path("migration").isObject()) {
            act(a, uuid, "revert_migration", JSON.createObjectNode());
            r = a.await(uuid, wait, false);
        }
        if (r.path("migration").isObject() || "error".equals(r.path("vm_state").asText())) {
            throw new CliException.Failed(src + ": revert_migration ended " + r.path("vm_state").asText() + ": "
                    + r.path("fault").asText("-"));
        }
        return r;
    }

    // ---- rebuild ----

    /** Rebuilds the instance on its host from {@code image} (an id or a name on that host; null: its own image). */
    public Moved rebuild(UUID uuid, String image) {
        long t0 = System.nanoTime();
        MoveState.Held at = MoveState.read(cloud, uuid).settled();
        AgentCalls a = cloud.agent(at.host());
        String id = image == null ? null : ImageCarry.resolve(a, image);
        ObjectNode arg = JSON.createObjectNode();
        if (id != null) {
            arg.put("image_id", id);
        }
        act(a, uuid, "rebuild", arg);
        JsonNode r = a.await(uuid, wait, false);
        if ("error".equals(r.path("vm_state").asText())) {
            throw new CliException.Failed(at.host() + ": rebuild of " + uuid + " failed: " + r.path("fault").asText("-"));
        }
        say.accept(at.host() + ": " + uuid + " rebuilt from image " + r.at("/spec/image_id").asText() + ", "
                + r.path("vm_state").asText() + " (backend " + r.path("backend_id").asText() + ")");
        return new Moved("rebuild", uuid, null, at.host(), at.host(), r.at("/spec/flavor/name").asText(), 0,
                (System.nanoTime() - t0) / 1e9, settled(uuid, at.host()));
    }

    /** Tells the hook the instance settled on {@code host}; its warning is said and returned. */
    private String settled(UUID uuid, String host) {
        String warning = hook.settled(cloud, uuid, host);
        if (!warning.isEmpty()) {
            say.accept("warning: " + warning);
        }
        return warning;
    }

    // ---- values ----

    private UUID providerOf(String host) {
        return cloud.placement().provider(host).map(CloudPlacement.Provider::uuid).orElseThrow(() ->
                new CliException.Failed("host " + host + " has no resource provider in Placement (is its agent "
                        + "reporting? placement.host must be " + host + ")"));
    }

    /**
     * The image to build an instance from on a host its disk never went to (evacuate): a migrated instance runs
     * from the image its migration carried ({@code migration-<id>}, on its host only), so the image it was first
     * built from ({@link #BASE_IMAGE_REF}); any other instance its own image.
     */
    public static String buildImage(JsonNode spec) {
        JsonNode base = spec.path("properties").path(BASE_IMAGE_REF);
        return base.isTextual() && !base.asText().isBlank() ? base.asText() : spec.path("image_id").asText();
    }

    static Flavor flavor(JsonNode f) {
        return new Flavor(f.path("name").asText(), f.path("vcpus").asInt(), f.path("memory_mb").asInt(),
                f.path("root_gb").asInt(), f.path("ephemeral_gb").asInt(), f.path("swap_mb").asInt());
    }

    static ObjectNode flavorJson(Flavor f) {
        return JSON.createObjectNode().put("name", f.name()).put("vcpus", f.vcpus()).put("memory_mb", f.memoryMb())
                .put("root_gb", f.rootGb()).put("ephemeral_gb", f.ephemeralGb()).put("swap_mb", f.swapMb());
    }

    /** What the agent claims for a flavor (the classes with an amount; disk = root + ephemeral + swap). */
    static Map<String, Long> resources(Flavor f) {
        Map<String, Long> out = new LinkedHashMap<>();
        out.put(CloudPlacement.VCPU, (long) f.vcpus());
        out.put(CloudPlacement.MEMORY_MB, (long) f.memoryMb());
        long disk = CapacityService.diskGb(f);
        if (disk > 0) {
            out.put(CloudPlacement.DISK_GB, disk);
        }
        return out;
    }

    private static String amounts(Map<String, Long> r) {
        List<String> out = new ArrayList<>();
        r.forEach((k, v) -> out.add(k + ":" + v));
        return String.join(",", out);
    }
}
