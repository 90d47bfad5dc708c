package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.berth.agent.cli.ApiClient;
import org.berth.agent.cli.CliException;

/**
 * The spec replicas evacuate rebuilds from (there is no cluster database): after a spawn or a move the instance's
 * spec and host are put on every other host's agent ({@code PUT /v1/replicas/{uuid}}), after a delete they are taken
 * away. A host that does not answer is reported, never fatal: the other hosts' copies suffice, and {@link #find}
 * takes the newest one.
 */
public final class Replicas {
    private Replicas() {
    }

    /** What a publish or withdraw reached: the hosts written, and each host that did not answer with why. */
    public record Spread(List<String> done, Map<String, String> missed) {
        /** "" when every host was reached, else a line naming the missed ones (for a warning). */
        public String warning() {
            return missed.isEmpty() ? "" : "replicas not updated on " + missed;
        }
    }

    /** One instance as the surviving hosts remember it. */
    public record Found(UUID uuid, String host, String driver, JsonNode spec, Instant updatedAt) {
    }

    /**
     * Reads the instance from {@code host}'s agent and puts its replica on every other host (the host itself drops
     * any replica of it it held: it has the instance). The instance must exist on {@code host}.
     */
    public static Spread publish(CloudCommand.Cloud cloud, String host, UUID uuid) {
        JsonNode inst = cloud.agent(host).instance(uuid);
        if (inst == null) {
            throw new CliException.Failed(host + ": has no instance " + uuid + " to publish a replica of");
        }
        ObjectNode body = ApiClient.JSON.createObjectNode();
        body.put("host", host).put("driver", inst.path("driver").asText());
        body.set("spec", inst.path("spec"));
        body.put("updated_at", Instant.now().toString());
        List<String> done = new ArrayList<>();
        Map<String, String> missed = new LinkedHashMap<>();
        for (CloudHosts.Host h : cloud.hosts().hosts()) {
            try {
                if (h.name().equals(host)) {
                    drop(cloud.agent(h.name()), uuid);
                } else {
                    cloud.agent(h.name()).api().put(path(uuid), body);
                }
                done.add(h.name());
            } catch (CliException e) {
                missed.put(h.name(), e.getMessage());
            }
        }
        return new Spread(done, missed);
    }

    /**
     * {@link #publish}, for a command whose own work is done: a failure is returned as the warning text ("" when
     * every host was reached) instead of thrown.
     */
    public static String publishQuietly(CloudCommand.Cloud cloud, String host, UUID uuid) {
        try {
            return publish(cloud, host, uuid).warning();
        } catch (CliException e) {
            return "replica of " + uuid + " not published: " + e.getMessage();
        }
    }

    /** Deletes the instance's replica on every host that answers. */
    public static Spread withdraw(CloudCommand.Cloud cloud, UUID uuid) {
        List<String> done = new ArrayList<>();
        Map<String, String> missed = new LinkedHashMap<>();
        for (CloudHosts.Host h : cloud.hosts().hosts()) {
            try {
                drop(cloud.agent(h.name()), uuid);
                done.add(h.name());
            } catch (CliException e) {
                missed.put(h.name(), e.getMessage());
            }
        }
        return new Spread(done, missed);
    }

    /**
     * The replicas of {@code deadHost}'s instances that the reachable hosts hold, by instance; where hosts disagree
     * the newest {@code updated_at} wins. {@code deadHost} itself is not asked.
     */
    public static Map<UUID, Found> find(CloudCommand.Cloud cloud, String deadHost) {
        Map<UUID, Found> out = new LinkedHashMap<>();
        for (CloudHosts.Host h : cloud.hosts().hosts()) {
            if (h.name().equals(deadHost)) {
                continue;
            }
            JsonNode list;
            try {
                list = cloud.agent(h.name()).api().get("/v1/replicas?host=" + ApiClient.segment(deadHost));
            } catch (CliException e) {
                continue; // another host that is down: the others' copies are enough
            }
            for (JsonNode r : list.path("replicas")) {
                Found f = new Found(UUID.fromString(r.path("uuid").asText()), r.path("host").asText(),
                        r.path("driver").asText(), r.path("spec"), Instant.parse(r.path("updated_at").asText()));
                out.merge(f.uuid(), f, (a, b) -> b.updatedAt().isAfter(a.updatedAt()) ? b : a);
            }
        }
        return out;
    }

    private static void drop(AgentCalls agent, UUID uuid) {
        try {
            agent.api().delete(path(uuid));
        } catch (CliException.ApiAnswered e) {
            if (e.status() != 404) {
                throw e;
            }
        }
    }

    private static String path(UUID uuid) {
        return "/v1/replicas/" + uuid;
    }
}
