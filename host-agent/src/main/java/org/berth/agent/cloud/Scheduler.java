package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.BiConsumer;
import java.util.random.RandomGenerator;
import org.berth.agent.capacity.CapacityService;
import org.berth.agent.cli.CliException;
import org.berth.agent.placement.PlacementException;
import org.berth.agent.placement.Traits;
import org.berth.driver.api.Flavor;

/**
 * Nova's scheduler for {@code berth cloud spawn}, stateless: Placement is the only shared state.
 * <ol>
 * <li>The request's resources, computed as the agent reports them (VCPU, MEMORY_MB, DISK_GB = root + ephemeral +
 * swap rounded up to GiB; amounts of 0 left out) and its driver's trait ({@code CUSTOM_BERTH_DRIVER_<NAME>}).</li>
 * <li>{@code GET /allocation_candidates} (disabled hosts are left out by Placement).</li>
 * <li>Weighing: most free MEMORY_MB first (Nova's RAMWeigher, the default weigher), then most free VCPU, then a
 * random tie-break, so that equal hosts share the load between concurrent schedulers instead of all racing for the
 * first one.</li>
 * <li>Claim ({@code PUT /allocations/{uuid}}) on the best; a claim lost to another scheduler (409 "exceeds the
 * capacity") moves on to the next candidate and does not count as an attempt.</li>
 * <li>Hand-off: the spawn is POSTed to that host's agent, which honours the claim. If the agent refuses it, or
 * (when waiting) the spawn ends in ERROR, the instance is deleted there, the claim given back, and the request
 * rescheduled from fresh candidates without that host: at most {@code maxAttempts} hosts (Nova's
 * {@code [scheduler] max_attempts}, default 3). A 400 on any field but {@code image_id} (images are per host) is
 * the request's own fault: it is given back and reported at once, not retried elsewhere.</li>
 * <li>Nothing fits: "no valid host" naming the short resource, from the usages of the enabled hosts that have the
 * driver.</li>
 * </ol>
 * Thread-safe if its {@link Hosts} is; several schedulers (CLIs) at once never overcommit: Placement checks each
 * claim against capacity atomically.
 */
public final class Scheduler {
    /** Nova's [scheduler] max_attempts default. */
    public static final int MAX_ATTEMPTS = 3;
    /** How many allocation requests one GET /allocation_candidates returns at most. */
    static final int CANDIDATE_LIMIT = 100;
    /** Fresh candidate lists per request at most (each one after a failed host or a round of lost claims). */
    private static final int ROUNDS = 10;
    /** How long a failed spawn's instance may take to be deleted before its claim is given back. */
    private static final Duration CLEANUP = Duration.ofSeconds(60);

    private final CloudPlacement placement;
    private final Set<String> hostNames;
    private final Hosts hosts;
    private final RandomGenerator random;
    private final Map<UUID, String> names = new HashMap<>();

    /**
     * @param hostNames the hosts file's hosts: a candidate provider of another name is skipped (noted)
     * @param hosts     the agents the hand-off goes to
     * @param random    the tie-break between equally weighed hosts
     */
    public Scheduler(CloudPlacement placement, Set<String> hostNames, Hosts hosts, RandomGenerator random) {
        this.placement = placement;
        this.hostNames = Set.copyOf(hostNames);
        this.hosts = hosts;
        this.random = random;
    }

    /** What the scheduler asks a chosen host's agent (the hosts file's agents; unit tests may play them). */
    public interface Hosts {
        /** POST /v1/instances on that host: the accepted instance; an error the agent answered is thrown. */
        JsonNode spawn(String host, ObjectNode body);

        /** Waits (bounded) until the instance's task has finished there: the instance. */
        JsonNode await(String host, UUID uuid, Duration limit);

        /** Deletes the instance there and waits (bounded) until it is gone; false when the host had none. */
        boolean deleteAndWait(String host, UUID uuid, Duration limit);

        /** The hosts file's agents. */
        static Hosts of(CloudCommand.Cloud cloud) {
            return new Hosts() {
                @Override
                public JsonNode spawn(String host, ObjectNode body) {
                    return cloud.agent(host).spawn(body);
                }

                @Override
                public JsonNode await(String host, UUID uuid, Duration limit) {
                    return cloud.agent(host).await(uuid, limit, false);
                }

                @Override
                public boolean deleteAndWait(String host, UUID uuid, Duration limit) {
                    return cloud.agent(host).deleteAndWait(uuid, limit);
                }
            };
        }
    }

    /**
     * One spawn to schedule.
     *
     * @param uuid        the instance's uuid, chosen up front (the Placement consumer of its claim)
     * @param body        the spawn request as {@code berth spawn} builds it; its uuid is set to {@code uuid}
     * @param maxAttempts how many hosts the spawn may be tried on
     * @param waitActive  wait for the spawn to finish on the host (an ERROR then reschedules)
     * @param waitLimit   how long each wait may take
     * @param perHost     adapts the body to a host before its claim (e.g. resolves an image name there); an
     *                    {@link IllegalArgumentException} skips that host, noted
     */
    public record Request(UUID uuid, ObjectNode body, int maxAttempts, boolean waitActive, Duration waitLimit,
                          BiConsumer<String, ObjectNode> perHost) {
        public Request {
            if (maxAttempts < 1 || maxAttempts > 100) {
                throw new IllegalArgumentException("--max-attempts: " + maxAttempts + " must be 1..100");
            }
        }
    }

    /** What happened on one host: outcome active, accepted, refused, error, lost_claim or skipped, and why. */
    public record Attempt(String host, String outcome, String reason) {
        boolean failed() {
            return outcome.equals("refused") || outcome.equals("error");
        }
    }

    /** Where the instance went, as the agent showed it, and every attempt on the way. */
    public record Placed(String host, JsonNode instance, List<Attempt> attempts) {
    }

    /**
     * Schedules the request: claims, hands off, reschedules (see the class comment).
     *
     * @throws CliException.Failed "no valid host: ..." when nothing fits or every attempt failed
     */
    public Placed schedule(Request r) {
        Map<String, Long> resources = resources(r.body());
        String trait = Traits.driverTrait(driver(r.body()));
        if (placement.consumer(r.uuid()).exists()) {
            throw new IllegalArgumentException("uuid: " + r.uuid() + " already has allocations in Placement: "
                    + "an instance uuid is used once");
        }
        r.body().put("uuid", r.uuid().toString());
        List<Attempt> attempts = new ArrayList<>();
        Set<UUID> excluded = new HashSet<>();
        int onHosts = 0;
        for (int round = 0; round < ROUNDS && onHosts < r.maxAttempts(); round++) {
            List<CloudPlacement.Candidate> order = weigh(candidates(resources, trait), random).stream()
                    .filter(c -> !excluded.contains(c.provider())).toList();
            if (order.isEmpty()) {
                break;
            }
            for (CloudPlacement.Candidate c : order) {
                String host = hostOf(c.provider());
                if (host == null) {
                    excluded.add(c.provider());
                    attempts.add(new Attempt(c.provider().toString(), "skipped",
                            "provider " + c.provider() + " is not a host of the hosts file"));
                    continue;
                }
                try {
                    r.perHost().accept(host, r.body());
                } catch (IllegalArgumentException e) {
                    excluded.add(c.provider());
                    attempts.add(new Attempt(host, "skipped", e.getMessage()));
                    continue;
                }
                if (!placement.claim(r.uuid(), c.provider(), c.resources())) {
                    attempts.add(new Attempt(host, "lost_claim", "another claim took the capacity first"));
                    continue;
                }
                onHosts++;
                JsonNode instance = handOff(host, r, attempts);
                if (instance != null) {
                    return new Placed(host, instance, List.copyOf(attempts));
                }
                excluded.add(c.provider());
                break; // fresh candidates: the failed spawn's claim is given back, others may have claimed since
            }
        }
        throw new CliException.Failed(noValidHost(resources, trait, attempts, onHosts >= r.maxAttempts(),
                r.maxAttempts()));
    }

    private CloudPlacement.Candidates candidates(Map<String, Long> resources, String trait) {
        try {
            return placement.candidates(resources, List.of(trait), CANDIDATE_LIMIT);
        } catch (PlacementException.Refused e) {
            if (e.status() == 400 && placement.client().get("/traits/" + trait).status() == 404) {
                // Placement refuses a query naming a trait it does not know: no provider ever had that driver
                throw new CliException.Failed(shortage(resources, trait, Map.of()));
            }
            throw e;
        }
    }

    /** Sends the spawn to the host; null (the instance deleted there and the claim given back) when it failed. */
    private JsonNode handOff(String host, Request r, List<Attempt> attempts) {
        JsonNode accepted;
        try {
            accepted = hosts.spawn(host, r.body());
        } catch (CliException.ApiAnswered e) {
            // the agent refused the request: it made nothing
            placement.release(r.uuid());
            if (e.status() == 400 && !e.getMessage().startsWith("400 image_id ")) {
                throw e; // the request itself is wrong (a field and its rule): every host would refuse it
            }
            attempts.add(new Attempt(host, "refused", e.getMessage()));
            return null;
        } catch (CliException e) {
            if (AgentCalls.neverDelivered(e)) {
                // the connection was refused: the request never reached the agent, which made nothing
                placement.release(r.uuid());
                attempts.add(new Attempt(host, "error", e.getMessage()));
                return null;
            }
            // the exchange broke: the agent may have accepted it
            cleanUp(host, r, attempts, e.getMessage());
            return null;
        }
        if (!r.waitActive()) {
            attempts.add(new Attempt(host, "accepted", null));
            return accepted;
        }
        JsonNode done;
        try {
            done = hosts.await(host, r.uuid(), r.waitLimit());
        } catch (CliException e) {
            cleanUp(host, r, attempts, e.getMessage());
            return null;
        }
        if (done.path("vm_state").asText().equals("error")) {
            cleanUp(host, r, attempts, "the spawn ended in ERROR: " + done.path("fault").asText("no fault"));
            return null;
        }
        attempts.add(new Attempt(host, "active", null));
        return done;
    }

    /**
     * Notes the failed attempt, deletes what the spawn left on the host, then gives the claim back. Only a delete the
     * agent answered, with the instance gone after it, proves there is no copy there: otherwise rescheduling would
     * start a second copy elsewhere, so it stops (the host keeps its claim, which its agent honours if the copy is still there).
     *
     * @throws CliException.Failed when the copy on the host may still exist
     */
    private void cleanUp(String host, Request r, List<Attempt> attempts, String reason) {
        attempts.add(new Attempt(host, "error", reason));
        try {
            hosts.deleteAndWait(host, r.uuid(), CLEANUP);
        } catch (CliException e) {
            String failed = attempts.stream().filter(Attempt::failed).map(a -> a.host() + ": " + a.reason())
                    .collect(java.util.stream.Collectors.joining("; "));
            throw new CliException.Failed("the spawn failed on " + host + " and deleting its copy there failed ("
                    + e.getMessage() + "): a copy of instance " + r.uuid() + " may still exist on " + host
                    + ", which keeps its claim; rescheduling stopped so that it does not run twice. Clean it up with "
                    + "'berth cloud delete " + r.uuid() + "' once " + host + " answers"
                    + (failed.isEmpty() ? "" : " (attempts: " + failed + ")"));
        }
        placement.release(r.uuid());
    }

    private String hostOf(UUID provider) {
        synchronized (names) {
            if (!names.containsKey(provider)) {
                placement.providers().forEach(p -> names.put(p.uuid(), p.name()));
            }
            String name = names.get(provider);
            return name != null && hostNames.contains(name) ? name : null;
        }
    }

    /**
     * The candidates best first: most free MEMORY_MB, then most free VCPU (as the providers' summaries have them),
     * then at random.
     */
    static List<CloudPlacement.Candidate> weigh(CloudPlacement.Candidates c, RandomGenerator random) {
        record Weighed(CloudPlacement.Candidate candidate, long ram, long vcpu, double tie) {
        }
        List<Weighed> w = new ArrayList<>();
        for (CloudPlacement.Candidate x : c.requests()) {
            CloudPlacement.Summary s = c.summaries().get(x.provider());
            w.add(new Weighed(x, s == null ? 0 : s.free(CloudPlacement.MEMORY_MB),
                    s == null ? 0 : s.free(CloudPlacement.VCPU), random.nextDouble()));
        }
        w.sort(Comparator.comparingLong(Weighed::ram).reversed().thenComparing(Comparator.comparingLong(Weighed::vcpu)
                .reversed()).thenComparingDouble(Weighed::tie));
        return w.stream().map(Weighed::candidate).toList();
    }

    /**
     * The request's resources as the agent reports its instances' (ReportSource): VCPU, MEMORY_MB and DISK_GB
     * (root + ephemeral + swap, {@link CapacityService#diskGb}); amounts of 0 left out. The flavor is checked as
     * the agent checks it.
     */
    public static Map<String, Long> resources(JsonNode body) {
        JsonNode f = body.path("flavor");
        if (!f.isObject()) {
            throw new IllegalArgumentException("flavor: is required, an object {vcpus, memory_mb[, root_gb, "
                    + "ephemeral_gb, swap_mb]} (--flavor/--vcpus/--memory-mb or the file's)");
        }
        Flavor flavor = new Flavor(f.path("name").asText("custom"), integer(f, "vcpus", null),
                integer(f, "memory_mb", null), integer(f, "root_gb", 0), integer(f, "ephemeral_gb", 0),
                integer(f, "swap_mb", 0));
        Map<String, Long> out = new LinkedHashMap<>();
        put(out, CloudPlacement.VCPU, flavor.vcpus());
        put(out, CloudPlacement.MEMORY_MB, flavor.memoryMb());
        put(out, CloudPlacement.DISK_GB, CapacityService.diskGb(flavor));
        return out;
    }

    private static void put(Map<String, Long> out, String rc, long amount) {
        if (amount > 0) {
            out.put(rc, amount);
        }
    }

    private static int integer(JsonNode f, String field, Integer fallback) {
        JsonNode n = f.get(field);
        if (n == null || n.isNull()) {
            if (fallback == null) {
                throw new IllegalArgumentException("flavor." + field + ": is required");
            }
            return fallback;
        }
        if (!n.canConvertToInt() || !n.isIntegralNumber()) {
            throw new IllegalArgumentException("flavor." + field + ": must be an integer, was " + n);
        }
        return n.asInt();
    }

    /** The request's driver (required: it decides the trait a host must have). */
    static String driver(JsonNode body) {
        String d = body.path("driver").asText("");
        if (d.isBlank()) {
            throw new IllegalArgumentException("driver: is required (--driver, or 'driver' in --file)");
        }
        return d;
    }

    /** The "no valid host" message: the failed attempts, or the short resource over the hosts Placement has now. */
    private String noValidHost(Map<String, Long> resources, String trait, List<Attempt> attempts, boolean exhausted,
                               int maxAttempts) {
        List<String> failed = attempts.stream().filter(Attempt::failed).map(a -> a.host() + ": " + a.reason())
                .toList();
        if (!failed.isEmpty()) {
            return "no valid host: the spawn failed on " + failed.size() + " host(s)" + (exhausted ? ", --max-attempts "
                    + maxAttempts + " reached" : " and no other host fits") + ": " + String.join("; ", failed);
        }
        Map<String, Map<String, CloudPlacement.Usage>> usage = new LinkedHashMap<>();
        for (CloudPlacement.Provider p : placement.providers(List.of(trait, "!" + Traits.DISABLED))) {
            usage.put(p.name(), placement.usages(p.uuid()));
        }
        return shortage(resources, trait, usage);
    }

    /**
     * "no valid host: MEMORY_MB short: requested 512, the most free on any host is 256 (hosts: ...)" for the first
     * class (VCPU, MEMORY_MB, DISK_GB) no host has enough of, or, when each fits somewhere, that no host has them
     * all together.
     *
     * @param usage the enabled hosts that have the driver's trait: their usage per class
     */
    static String shortage(Map<String, Long> resources, String trait, Map<String, Map<String, CloudPlacement.Usage>> usage) {
        if (usage.isEmpty()) {
            return "no valid host: no enabled host has the trait " + trait + " (its driver is not available anywhere)";
        }
        for (String rc : CloudPlacement.CLASSES) {
            long wanted = resources.getOrDefault(rc, 0L);
            if (wanted == 0) {
                continue;
            }
            long most = usage.values().stream().mapToLong(u -> free(u, rc)).max().orElse(0);
            if (wanted > most) {
                return "no valid host: " + rc + " short: requested " + wanted + ", the most free on any host is "
                        + most + " (hosts: " + hostsText(usage, List.of(rc)) + ")";
            }
        }
        return "no valid host: no host has " + resources + " free together (hosts: "
                + hostsText(usage, List.copyOf(resources.keySet())) + ")";
    }

    private static long free(Map<String, CloudPlacement.Usage> u, String rc) {
        CloudPlacement.Usage x = u.get(rc);
        return x == null ? 0 : x.free();
    }

    private static String hostsText(Map<String, Map<String, CloudPlacement.Usage>> usage, List<String> classes) {
        List<String> out = new ArrayList<>();
        usage.forEach((host, u) -> {
            List<String> parts = new ArrayList<>();
            for (String rc : classes) {
                CloudPlacement.Usage x = u.get(rc);
                parts.add((classes.size() > 1 ? rc + " " : "") + (x == null ? "none" : x.free() + " free of "
                        + x.capacity()));
            }
            out.add(host + " " + String.join(", ", parts));
        });
        return String.join("; ", out);
    }
}
