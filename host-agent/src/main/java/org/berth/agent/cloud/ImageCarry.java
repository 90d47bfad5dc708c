package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.StreamSupport;
import org.berth.agent.cli.CliException;

/**
 * A migration's disk between two agents: the source's {@code GET /v1/images/{id}/file} streamed straight into the
 * destination's streamed upload (never held in memory or on the CLI's disk), same name, formats, properties and
 * SHA-256 (the destination checks it before it registers the image).
 */
final class ImageCarry {
    private ImageCarry() {
    }

    /** The destination's copy. */
    record Carried(String id, long bytes) {
    }

    static Carried carry(AgentCalls from, AgentCalls to, String imageId) {
        JsonNode meta = from.api().get("/v1/images/" + imageId).path("image");
        Map<String, String> q = new LinkedHashMap<>();
        q.put("name", meta.path("name").asText());
        q.put("disk_format", meta.path("disk_format").asText());
        q.put("container_format", meta.path("container_format").asText());
        q.put("sha256", meta.path("sha256").asText());
        if (meta.path("properties").size() > 0) {
            q.put("properties", meta.path("properties").toString());
        }
        long size = meta.path("size").asLong();
        JsonNode up = to.api().upload(() -> from.api().stream("/v1/images/" + imageId + "/file"), size, q);
        return new Carried(up.path("image").path("id").asText(), size);
    }

    /** Deletes the agent's images of that name (a migration's copy); how many went. */
    static int deleteNamed(AgentCalls agent, String name) {
        int n = 0;
        for (JsonNode i : agent.api().get("/v1/images").path("images")) {
            if (i.path("name").asText().equals(name)) {
                try {
                    agent.api().delete("/v1/images/" + i.path("id").asText());
                    n++;
                } catch (CliException.ApiAnswered e) {
                    if (e.status() != 404) {
                        throw e;
                    }
                }
            }
        }
        return n;
    }

    /** An image id, or the id of the one image of that name on the agent's host. */
    static String resolve(AgentCalls agent, String idOrName) {
        try {
            return UUID.fromString(idOrName).toString();
        } catch (IllegalArgumentException notAnId) {
            List<JsonNode> named = StreamSupport.stream(agent.api().get("/v1/images").path("images").spliterator(),
                    false).filter(i -> i.path("name").asText().equals(idOrName)).toList();
            if (named.size() != 1) {
                throw new IllegalArgumentException("--image: '" + idOrName + "' names " + named.size() + " images on "
                        + agent.host().name() + "; give one image's id or a unique name");
            }
            return named.get(0).path("id").asText();
        }
    }

}
