package org.berth.agent.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Locale;
import java.util.UUID;
import org.berth.driver.api.Flavor;

/**
 * An instance's part in a cold migration or resize (Nova's migration record, split over the two hosts: each agent
 * keeps its own side; there is no cluster database). The source reports its usage to Placement under consumer
 * {@link #id()} while the marker is set; the destination under the instance uuid.
 *
 * @param id        the migration's id (a UUID the conductor made): the Placement consumer of the source's usage
 * @param role      which side this host is
 * @param peer      the other host's name
 * @param imageId   the snapshot of the root disk ({@code migration-<id>}) on the source; the uploaded copy on the
 *                  destination; null until known
 * @param oldFlavor the flavor before the move (a resize's revert goes back to it), or null
 * @param wasActive on the source: whether the instance ran when migrate_out stopped it (a conductor finishing a
 *                  cut-off move spawns the destination powered on only then); null when not known
 */
public record Migration(UUID id, Role role, String peer, String imageId, Flavor oldFlavor, Boolean wasActive) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public enum Role {
        SOURCE, DESTINATION;

        public String apiName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public Migration(UUID id, Role role, String peer, String imageId, Flavor oldFlavor) {
        this(id, role, peer, imageId, oldFlavor, null);
    }

    public Migration {
        if (id == null || role == null) {
            throw new IllegalArgumentException("migration: id and role must be given");
        }
    }

    public Migration withImageId(String image) {
        return new Migration(id, role, peer, image, oldFlavor, wasActive);
    }

    /** The name of the source's snapshot image: {@code migration-<id>}. */
    public String imageName() {
        return imageName(id);
    }

    public static String imageName(UUID id) {
        return "migration-" + id;
    }

    public ObjectNode toJson() {
        ObjectNode n = JSON.createObjectNode();
        n.put("id", id.toString()).put("role", role.apiName()).put("peer", peer).put("image_id", imageId);
        if (wasActive != null) {
            n.put("was_active", wasActive);
        }
        if (oldFlavor == null) {
            n.putNull("old_flavor");
        } else {
            n.putObject("old_flavor").put("name", oldFlavor.name()).put("vcpus", oldFlavor.vcpus())
                    .put("memory_mb", oldFlavor.memoryMb()).put("root_gb", oldFlavor.rootGb())
                    .put("ephemeral_gb", oldFlavor.ephemeralGb()).put("swap_mb", oldFlavor.swapMb());
        }
        return n;
    }

    /** The column's text, or null for no migration. */
    static String write(Migration m) {
        return m == null ? null : m.toJson().toString();
    }

    /** Reads what {@link #write} wrote (null or empty = none). */
    static Migration read(String json) {
        if (json == null || json.isEmpty()) {
            return null;
        }
        try {
            JsonNode n = JSON.readTree(json);
            JsonNode f = n.path("old_flavor");
            Flavor old = f.isObject() ? new Flavor(f.get("name").asText(), f.get("vcpus").asInt(),
                    f.get("memory_mb").asInt(), f.get("root_gb").asInt(), f.get("ephemeral_gb").asInt(),
                    f.get("swap_mb").asInt()) : null;
            return new Migration(UUID.fromString(n.get("id").asText()),
                    Role.valueOf(n.get("role").asText().toUpperCase(Locale.ROOT)),
                    n.path("peer").isTextual() ? n.get("peer").asText() : null,
                    n.path("image_id").isTextual() ? n.get("image_id").asText() : null, old,
                    n.path("was_active").isBoolean() ? n.get("was_active").asBoolean() : null);
        } catch (IOException | RuntimeException e) {
            throw new StoreException("migration column is not readable: " + e.getMessage(), e);
        }
    }
}
