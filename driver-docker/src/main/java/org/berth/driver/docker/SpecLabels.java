package org.berth.driver.docker;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.VifSpec;

/**
 * The spec as container labels, so that {@code list()} and an agent restart rebuild it from the engine alone.
 * Written by hand (not by Jackson's record binding) so the label format stays stable when the records grow.
 */
final class SpecLabels {
    static final String UUID_LABEL = "org.berth.uuid";
    static final String SPEC_LABEL = "org.berth.spec";
    static final String IMAGE_LABEL = "org.berth.image_id";
    /** {@link org.berth.driver.api.DriverContext#owner()} of the driver that created the container. */
    static final String OWNER_LABEL = "org.berth.owner";

    private static final ObjectMapper JSON = new ObjectMapper();

    private SpecLabels() {
    }

    static Map<String, String> of(InstanceSpec spec, String owner) {
        return Map.of(UUID_LABEL, spec.uuid().toString(), SPEC_LABEL, toJson(spec), IMAGE_LABEL, spec.imageId(),
                OWNER_LABEL, owner);
    }

    /** The spec from labels, or empty when the labels are not Berth's (or are damaged). */
    static Optional<InstanceSpec> from(Map<String, String> labels) {
        if (labels == null || labels.get(UUID_LABEL) == null || labels.get(SPEC_LABEL) == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(fromJson(JSON.readTree(labels.get(SPEC_LABEL))));
        } catch (JsonProcessingException | RuntimeException e) {
            return Optional.empty();
        }
    }

    static String toJson(InstanceSpec spec) {
        ObjectNode n = JSON.createObjectNode();
        n.put("uuid", spec.uuid().toString());
        n.put("name", spec.name());
        ObjectNode f = n.putObject("flavor");
        Flavor fl = spec.flavor();
        f.put("name", fl.name()).put("vcpus", fl.vcpus()).put("memory_mb", fl.memoryMb()).put("root_gb", fl.rootGb())
                .put("ephemeral_gb", fl.ephemeralGb()).put("swap_mb", fl.swapMb());
        n.put("image_id", spec.imageId());
        n.set("vifs", vifsToJson(spec.vifs()));
        ObjectNode p = n.putObject("properties");
        new java.util.TreeMap<>(spec.properties()).forEach(p::put);
        n.put("power_on", spec.powerOn());
        n.set("guest", GuestJson.toJson(spec.guest()));
        return n.toString();
    }

    static InstanceSpec fromJson(JsonNode n) {
        JsonNode f = n.path("flavor");
        Flavor flavor = new Flavor(f.path("name").asText(), f.path("vcpus").asInt(), f.path("memory_mb").asInt(),
                f.path("root_gb").asInt(), f.path("ephemeral_gb").asInt(), f.path("swap_mb").asInt());
        Map<String, String> props = new LinkedHashMap<>();
        n.path("properties").properties().forEach(e -> props.put(e.getKey(), e.getValue().asText()));
        String name = n.path("name").asText();
        return new InstanceSpec(java.util.UUID.fromString(n.path("uuid").asText()), name, flavor,
                n.path("image_id").asText(), vifsFromJson(n.path("vifs")), props, n.path("power_on").asBoolean(true),
                GuestJson.fromJson(n.get("guest"), name));
    }

    static ArrayNode vifsToJson(List<VifSpec> vifs) {
        ArrayNode a = JSON.createArrayNode();
        for (VifSpec v : vifs) {
            ObjectNode o = a.addObject();
            o.put("port_id", v.portId()).put("mac", v.mac()).put("bridge", v.bridge()).put("mtu", v.mtu());
            v.vlan().ifPresentOrElse(t -> o.put("vlan", t), () -> o.putNull("vlan"));
            ArrayNode ips = o.putArray("ips");
            v.ips().forEach(ip -> ips.add(ip.toString()));
            v.gateway().ifPresentOrElse(g -> o.put("gateway", g.getHostAddress()), () -> o.putNull("gateway"));
        }
        return a;
    }

    static List<VifSpec> vifsFromJson(JsonNode a) {
        List<VifSpec> vifs = new ArrayList<>();
        for (JsonNode o : a) {
            List<IpAddress> ips = new ArrayList<>();
            o.path("ips").forEach(ip -> ips.add(IpAddress.parseCidr(ip.asText(), "vif.ips")));
            vifs.add(new VifSpec(o.path("port_id").asText(), o.path("mac").asText(), o.path("bridge").asText(),
                    o.path("mtu").asInt(),
                    o.path("vlan").isNumber() ? Optional.of(o.get("vlan").asInt()) : Optional.empty(),
                    ips,
                    o.path("gateway").isTextual()
                            ? Optional.of(IpAddress.parseAddress(o.get("gateway").asText(), "vif.gateway"))
                            : Optional.empty()));
        }
        return vifs;
    }

    static ObjectMapper json() {
        return JSON;
    }
}
