package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.berth.agent.cli.CliException;
import org.berth.agent.placement.PlacementException;
import org.berth.agent.placement.Traits;

/**
 * Nova's evacuate ("rebuild for HA") without a cluster database: a host that is down (its agent does not answer AND
 * its OVN chassis is gone from the southbound DB, so nothing of it can still run or hold its ports) has each
 * instance allocated on its Placement provider rebuilt on another host from its image and its spec replica (same
 * uuid, name, ports, MACs, addresses). The destination is claimed on the instance's consumer next to the source's
 * part, which stays until the source comes back and its agent removes it (with its stale copy).
 */
public final class Evacuate {
    /** Spec property naming the host an instance was evacuated from: the returning host's agent reads it. */
    public static final String EVACUATED_FROM = org.berth.agent.reconcile.EvacuatedCheck.EVACUATED_FROM;
    /** Hosts tried per instance, as Nova's alternates. */
    private static final int MAX_HOSTS = 3;
    private static final int CANDIDATES = 50;

    private final CloudCommand.Cloud cloud;
    private final Duration wait;
    private final SouthboundCheck chassis;

    /** How the southbound DB is asked whether a chassis is still there (the lab's ovn-sbctl by default). */
    @FunctionalInterface
    public interface SouthboundCheck {
        /** True while the chassis is registered; throws when the DB cannot be asked. */
        boolean registered(String sb, String chassis);
    }

    /** One instance's outcome. */
    public record Row(UUID uuid, String from, String to, String result, boolean ok) {
    }

    public Evacuate(CloudCommand.Cloud cloud, Duration wait, SouthboundCheck chassis) {
        this.cloud = cloud;
        this.wait = wait;
        this.chassis = chassis;
    }

    /**
     * Checks that {@code host} is down, then rebuilds its instances ({@code to}: the one destination, or null to
     * schedule each). A refusal is a {@link CliException.Failed} naming the check that failed.
     */
    public List<Row> run(String host, String to) {
        CloudHosts.Host dead = cloud.hosts().host(host);
        if (to != null) {
            cloud.hosts().host(to);
            if (to.equals(host)) {
                throw new IllegalArgumentException("--to: '" + to + "' is the host being evacuated");
            }
        }
        refuseUnlessDown(dead);
        CloudPlacement placement = cloud.placement();
        CloudPlacement.Provider source = placement.provider(host).orElseThrow(() -> new CliException.Failed(
                "refused: Placement has no resource provider named '" + host + "' (nothing is allocated there)"));
        Map<UUID, String> names = new HashMap<>();
        placement.providers().forEach(p -> names.put(p.uuid(), p.name()));
        Map<UUID, Replicas.Found> replicas = Replicas.find(cloud, host);
        List<Row> rows = new ArrayList<>();
        for (var e : placement.allocations(source.uuid()).entrySet()) {
            UUID uuid = e.getKey();
            Replicas.Found replica = replicas.get(uuid);
            if (replica == null) {
                rows.add(new Row(uuid, host, "-", "cannot rebuild: no spec replica", false));
                continue;
            }
            try {
                rows.add(rebuild(replica, source, e.getValue(), names, to));
            } catch (CliException | PlacementException | IllegalStateException ex) {
                rows.add(new Row(uuid, host, "-", "failed: " + ex.getMessage(), false));
            }
        }
        return rows;
    }

    /** Refuses (naming the check) unless the agent does not answer and the chassis is gone from the SB. */
    void refuseUnlessDown(CloudHosts.Host dead) {
        AgentCalls agent = cloud.agent(dead.name());
        if (agent.reachable()) {
            throw new CliException.Failed("refused: check 1 (agent unreachable) failed: " + dead.name()
                    + "'s agent answers GET /healthz at " + dead.api() + "; a host that is up is not evacuated "
                    + "(migrate its instances instead)");
        }
        String sb = cloud.hosts().sb();
        if (sb == null) {
            throw new CliException.Failed("refused: check 2 (OVN chassis gone) cannot be made: the hosts file "
                    + cloud.hosts().file() + " names no \"sb\" (the OVN southbound DB)");
        }
        boolean there;
        try {
            there = chassis.registered(sb, dead.chassis());
        } catch (RuntimeException e) {
            throw new CliException.Failed("refused: check 2 (OVN chassis gone) cannot be made: " + e.getMessage());
        }
        if (there) {
            throw new CliException.Failed("refused: check 2 (OVN chassis gone) failed: chassis '" + dead.chassis()
                    + "' of " + dead.name() + " is still in the southbound DB " + sb + " (its ovn-controller may "
                    + "still run and hold its ports); fence the host and delete it (ovn-sbctl chassis-del "
                    + dead.chassis() + ") first");
        }
    }

    private Row rebuild(Replicas.Found replica, CloudPlacement.Provider source, Map<String, Long> resources,
                        Map<UUID, String> names, String to) {
        UUID uuid = replica.uuid();
        CloudPlacement placement = cloud.placement();
        // a run cut off earlier (or running now) may have claimed (and spawned) already: finish that one, never a
        // second copy
        for (UUID held : placement.consumer(uuid).allocations().keySet()) {
            if (!held.equals(source.uuid())) {
                return resume(replica, source, held, names);
            }
        }
        List<String> tried = new ArrayList<>();
        for (UUID dest : destinations(replica, source, resources, names, to)) {
            String name = names.get(dest);
            if (tried.size() >= MAX_HOSTS) {
                break;
            }
            tried.add(name);
            UUID held = claim(uuid, source.uuid(), resources, dest);
            if (held == null) {
                continue; // a lost race for that host's capacity
            }
            if (!held.equals(dest)) {
                return resume(replica, source, held, names); // another evacuation claimed first
            }
            try {
                return spawnAndPublish(replica, source, name, dest);
            } catch (CliException | IllegalStateException e) {
                String left = giveBack(uuid, source.uuid(), resources, name);
                if (left != null) {
                    return new Row(uuid, source.name(), name, "failed on " + name + " (" + e.getMessage() + ") and "
                            + left, false);
                }
                if (to != null) {
                    throw e;
                }
            }
        }
        return new Row(uuid, source.name(), "-", tried.isEmpty() ? "no valid host: no other host has room ("
                + resources + ") and the trait " + Traits.driverTrait(replica.driver()) : "failed on " + tried, false);
    }

    /** Candidates other than the source that are in the hosts file, weighed as the scheduler does (RAM, VCPU, random). */
    private List<UUID> destinations(Replicas.Found replica, CloudPlacement.Provider source, Map<String, Long> resources,
                                    Map<UUID, String> names, String to) {
        CloudPlacement.Candidates c = cloud.placement().candidates(resources,
                List.of(Traits.driverTrait(replica.driver())), CANDIDATES);
        List<UUID> out = new ArrayList<>();
        for (CloudPlacement.Candidate cand : Scheduler.weigh(c, ThreadLocalRandom.current())) {
            String name = names.get(cand.provider());
            if (!cand.provider().equals(source.uuid()) && name != null && cloud.hosts().find(name).isPresent()
                    && (to == null || to.equals(name)) && !out.contains(cand.provider())) {
                out.add(cand.provider());
            }
        }
        return out;
    }

    /**
     * Claims {@code dest} on the instance's consumer keeping the source's part (Nova keeps both until the source is
     * back): a PUT with both providers and the consumer's generation. {@code dest} when claimed; null when the
     * destination lost the capacity to another claim; another provider when the consumer holds a part there already
     * (a concurrent evacuation claimed first: adding a part would run the instance twice).
     */
    private UUID claim(UUID uuid, UUID source, Map<String, Long> resources, UUID dest) {
        for (int attempt = 1; ; attempt++) {
            CloudPlacement.Consumer c = cloud.placement().consumer(uuid);
            for (UUID held : c.allocations().keySet()) {
                if (!held.equals(source)) {
                    return held;
                }
            }
            Map<UUID, Map<String, Long>> both = new LinkedHashMap<>(c.allocations());
            both.putIfAbsent(source, resources);
            both.put(dest, resources);
            try {
                cloud.placement().put(uuid, both, c.generation());
                return dest;
            } catch (PlacementException.Refused e) {
                if (e.status() != 409) {
                    throw e;
                }
                if (!e.concurrentUpdate()) {
                    return null;
                }
                if (attempt >= 4) {
                    throw e;
                }
            }
        }
    }

    /**
     * Finishes the rebuild on {@code held}, a provider other than the source that the consumer holds a part on (a
     * cut-off or concurrent evacuation's claim), when it is a host of the hosts file whose agent answers; otherwise
     * reports it (a part on another dead host, or on a provider the hosts file does not name, is not one to resume
     * on, and rebuilding elsewhere could run the instance twice).
     */
    private Row resume(Replicas.Found replica, CloudPlacement.Provider source, UUID held, Map<UUID, String> names) {
        String name = names.get(held);
        if (name == null) {
            name = cloud.placement().providers().stream().filter(p -> p.uuid().equals(held))
                    .map(CloudPlacement.Provider::name).findFirst().orElse(held.toString());
        }
        if (cloud.hosts().find(name).isEmpty()) {
            return new Row(replica.uuid(), source.name(), name, "not rebuilt: its consumer also holds a part on "
                    + name + ", which is not a host of the hosts file; check where the instance runs first", false);
        }
        if (!cloud.agent(name).reachable()) {
            return new Row(replica.uuid(), source.name(), name, "not rebuilt: its consumer also holds a part on "
                    + name + ", whose agent does not answer (an earlier evacuation may have rebuilt it there); bring "
                    + name + " back or evacuate it first", false);
        }
        return spawnAndPublish(replica, source, name, held);
    }

    /**
     * Takes the destination's part back off the consumer (the source's stays), after a failed rebuild, once the
     * destination's copy is confirmed gone (its agent answered the delete and the instance is gone). Null when given
     * back; otherwise why not (the destination keeps its part: another host must not get a second copy).
     */
    private String giveBack(UUID uuid, UUID source, Map<String, Long> resources, String destName) {
        try {
            cloud.agent(destName).deleteAndWait(uuid, wait);
        } catch (CliException e) {
            return "deleting its copy there failed (" + e.getMessage() + "): a copy may still exist on " + destName
                    + ", which keeps its claim; not tried elsewhere so that it does not run twice (run the evacuation "
                    + "again once " + destName + " answers: it resumes there)";
        }
        try {
            CloudPlacement.Consumer c = cloud.placement().consumer(uuid);
            cloud.placement().put(uuid, Map.of(source, c.allocations().getOrDefault(source, resources)),
                    c.generation());
        } catch (PlacementException e) {
            // lost to the destination's own report, which removes its part of an instance it no longer has anyway
        }
        return null;
    }

    private Row spawnAndPublish(Replicas.Found replica, CloudPlacement.Provider source, String destName, UUID dest) {
        AgentCalls agent = cloud.agent(destName);
        UUID uuid = replica.uuid();
        JsonNode have = agent.instance(uuid);
        if (have == null || "deleted".equals(have.path("vm_state").asText())) {
            ObjectNode body = replica.spec().deepCopy();
            // a migrated instance's image_id is the image carried to the dead host; rebuild from the one it was built from
            body.put("image_id", Moves.buildImage(replica.spec()));
            body.put("driver", replica.driver());
            ObjectNode props = body.has("properties") && body.get("properties").isObject()
                    ? (ObjectNode) body.get("properties") : body.putObject("properties");
            props.put(EVACUATED_FROM, chain(props.path(EVACUATED_FROM).asText(""), source.name()));
            agent.spawn(body);
        }
        JsonNode done = agent.await(uuid, wait, false);
        String state = done.path("vm_state").asText();
        if (!"active".equals(state)) {
            throw new IllegalStateException(destName + ": the rebuilt instance is " + state + " (fault: "
                    + done.path("fault").asText("-") + ")");
        }
        Replicas.Spread spread = Replicas.publish(cloud, destName, uuid);
        return new Row(uuid, source.name(), destName, "rebuilt" + (spread.missed().isEmpty() ? ""
                : " (replica not updated on " + String.join(", ", spread.missed().keySet()) + ")"), true);
    }

    /**
     * The sources an instance was evacuated from, oldest first: an instance evacuated again while its earlier source
     * is still dead names both, so that its copy is still told apart from theirs when it restarts (EvacuatedCheck).
     */
    static String chain(String earlier, String source) {
        java.util.LinkedHashSet<String> hosts = new java.util.LinkedHashSet<>();
        for (String h : earlier.split(",")) {
            if (!h.isBlank()) {
                hosts.add(h.strip());
            }
        }
        hosts.remove(source);
        hosts.add(source);
        return String.join(",", hosts);
    }
}
