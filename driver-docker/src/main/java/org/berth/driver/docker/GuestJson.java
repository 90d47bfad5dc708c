package org.berth.driver.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.berth.driver.api.GuestConfig;

/**
 * {@link GuestConfig} inside the spec label ({@code "guest"}, Nova's field names), so that {@code list()} after an
 * agent restart, a hard reboot and a rebuild see the same hostname, metadata, keys and user data. The engine takes
 * labels of any size (a label with 87 KB of base64, the largest user data Nova allows, was checked on dockerd
 * 20.10), so user data is stored there too rather than beside the container.
 */
final class GuestJson {
    private GuestJson() {
    }

    static ObjectNode toJson(GuestConfig g) {
        ObjectNode n = SpecLabels.json().createObjectNode();
        n.put("hostname", g.hostname());
        ObjectNode meta = n.putObject("metadata");
        g.metadata().forEach(meta::put);
        ObjectNode keys = n.putObject("public_keys");
        g.publicKeys().forEach(keys::put);
        g.userData().ifPresentOrElse(u -> n.put("user_data", u), () -> n.putNull("user_data"));
        g.configDrive().ifPresentOrElse(c -> n.put("config_drive", c), () -> n.putNull("config_drive"));
        g.projectId().ifPresentOrElse(p -> n.put("project_id", p), () -> n.putNull("project_id"));
        n.put("availability_zone", g.availabilityZone());
        return n;
    }

    /** The guest of a label; a label written before guests existed has none: the defaults for {@code name}. */
    static GuestConfig fromJson(JsonNode n, String name) {
        if (n == null || !n.isObject()) {
            return GuestConfig.forName(name);
        }
        return new GuestConfig(n.path("hostname").asText(), strings(n.path("metadata")),
                strings(n.path("public_keys")), text(n, "user_data"),
                n.path("config_drive").isBoolean() ? Optional.of(n.get("config_drive").asBoolean()) : Optional.empty(),
                text(n, "project_id"), n.path("availability_zone").asText(GuestConfig.DEFAULT_ZONE));
    }

    private static Map<String, String> strings(JsonNode o) {
        Map<String, String> out = new LinkedHashMap<>();
        o.properties().forEach(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    private static Optional<String> text(JsonNode n, String field) {
        return n.path(field).isTextual() ? Optional.of(n.get(field).asText()) : Optional.empty();
    }
}
