package org.berth.agent.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.VifSpec;

/**
 * The JSON form of an {@link InstanceSpec} (snake_case, as the API takes it and the store keeps it). Reading is
 * strict: unknown fields, wrong types and out-of-range values raise {@link FieldError} naming the field.
 */
public final class SpecJson {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern UUID_TEXT =
            Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    private static final Set<String> SPEC = Set.of("uuid", "name", "flavor", "image_id", "vifs", "properties", "power_on",
            "hostname", "metadata", "public_keys", "user_data", "config_drive", "project_id", "availability_zone");
    private static final Set<String> FLAVOR = Set.of("name", "vcpus", "memory_mb", "root_gb", "ephemeral_gb", "swap_mb");
    private static final Set<String> VIF = Set.of("port_id", "mac", "bridge", "mtu", "vlan", "ips", "gateway");

    private SpecJson() {
    }

    /**
     * Reads a spec from {@code node} (fields {@link #SPEC}); {@code extra} names other fields the caller allows at
     * the same level. A missing uuid gets a random one; a VIF without bridge gets {@code defaultBridge}.
     */
    public static InstanceSpec read(JsonNode node, Set<String> extra, String defaultBridge) {
        requireObject(node, "body");
        node.fieldNames().forEachRemaining(k -> {
            if (!SPEC.contains(k) && !extra.contains(k)) {
                throw new FieldError(k, "unknown_field", "is not a field of an instance; fields: "
                        + String.join(", ", SPEC.stream().sorted().toList()));
            }
        });
        UUID uuid = node.hasNonNull("uuid") ? uuid(node.get("uuid"), "uuid") : UUID.randomUUID();
        String name = text(node, "name", "name", true);
        Flavor flavor = flavor(node.get("flavor"));
        String imageId = uuid(required(node, "image_id", "image_id"), "image_id").toString();
        List<VifSpec> vifs = new ArrayList<>();
        JsonNode v = node.get("vifs");
        if (v != null && !v.isNull()) {
            if (!v.isArray()) {
                throw new FieldError("vifs", "type", "must be a list");
            }
            for (int i = 0; i < v.size(); i++) {
                vifs.add(vif(v.get(i), "vifs[" + i + "]", defaultBridge));
            }
        }
        Map<String, String> props = new LinkedHashMap<>();
        JsonNode p = node.get("properties");
        if (p != null && !p.isNull()) {
            requireObject(p, "properties");
            p.properties().forEach(f -> {
                if (!f.getValue().isTextual()) {
                    throw new FieldError("properties." + f.getKey(), "type", "must be a string");
                }
                props.put(f.getKey(), f.getValue().asText());
            });
        }
        boolean powerOn = true;
        JsonNode po = node.get("power_on");
        if (po != null && !po.isNull()) {
            if (!po.isBoolean()) {
                throw new FieldError("power_on", "type", "must be true or false");
            }
            powerOn = po.asBoolean();
        }
        try {
            return new InstanceSpec(uuid, name, flavor, imageId, vifs, props, powerOn, guest(node, name));
        } catch (FieldError e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw fromRecord(e, "");
        }
    }

    /** The guest's configuration fields (Nova's server create: metadata, user_data, config_drive, ...). */
    private static GuestConfig guest(JsonNode node, String name) {
        String hostname = node.hasNonNull("hostname") ? text(node, "hostname", "hostname", true)
                : GuestConfig.hostnameFor(name);
        Map<String, String> metadata = strings(node.get("metadata"), "metadata");
        Map<String, String> keys = strings(node.get("public_keys"), "public_keys");
        Optional<String> userData = node.hasNonNull("user_data")
                ? Optional.of(text(node, "user_data", "user_data", true)) : Optional.empty();
        Optional<Boolean> drive = Optional.empty();
        JsonNode cd = node.get("config_drive");
        if (cd != null && !cd.isNull()) {
            if (!cd.isBoolean()) {
                throw new FieldError("config_drive", "type", "must be true or false");
            }
            drive = Optional.of(cd.asBoolean());
        }
        Optional<String> project = node.hasNonNull("project_id")
                ? Optional.of(text(node, "project_id", "project_id", true)) : Optional.empty();
        String zone = node.hasNonNull("availability_zone") ? text(node, "availability_zone", "availability_zone", true)
                : GuestConfig.DEFAULT_ZONE;
        return new GuestConfig(hostname, metadata, keys, userData, drive, project, zone);
    }

    /** A JSON object of strings (absent or null = empty), in its order. */
    private static Map<String, String> strings(JsonNode n, String path) {
        Map<String, String> out = new LinkedHashMap<>();
        if (n == null || n.isNull()) {
            return out;
        }
        requireObject(n, path);
        n.properties().forEach(f -> {
            if (!f.getValue().isTextual()) {
                throw new FieldError(path + "." + f.getKey(), "type", "must be a string");
            }
            out.put(f.getKey(), f.getValue().asText());
        });
        return out;
    }

    private static Flavor flavor(JsonNode f) {
        if (f == null || f.isNull()) {
            throw new FieldError("flavor", "required", "must be given");
        }
        requireObject(f, "flavor");
        unknown(f, "flavor", FLAVOR);
        try {
            return new Flavor(text(f, "name", "flavor.name", true), integer(f, "vcpus", "flavor.vcpus", null),
                    integer(f, "memory_mb", "flavor.memory_mb", null), integer(f, "root_gb", "flavor.root_gb", 0),
                    integer(f, "ephemeral_gb", "flavor.ephemeral_gb", 0), integer(f, "swap_mb", "flavor.swap_mb", 0));
        } catch (FieldError e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw fromRecord(e, "");
        }
    }

    /** One VIF as the API takes it (POST /v1/instances/{uuid}/interfaces). */
    public static VifSpec readVif(JsonNode n, String defaultBridge) {
        return vif(n, "vif", defaultBridge);
    }

    private static VifSpec vif(JsonNode n, String path, String defaultBridge) {
        requireObject(n, path);
        unknown(n, path, VIF);
        String portId = uuid(required(n, "port_id", path + ".port_id"), path + ".port_id").toString();
        String mac = text(n, "mac", path + ".mac", true);
        String bridge = n.hasNonNull("bridge") ? text(n, "bridge", path + ".bridge", true) : defaultBridge;
        int mtu = integer(n, "mtu", path + ".mtu", 1500);
        Optional<Integer> vlan = n.hasNonNull("vlan") ? Optional.of(integer(n, "vlan", path + ".vlan", null)) : Optional.empty();
        List<IpAddress> ips = new ArrayList<>();
        JsonNode a = n.get("ips");
        if (a != null && !a.isNull()) {
            if (!a.isArray()) {
                throw new FieldError(path + ".ips", "type", "must be a list of address/prefix strings");
            }
            for (int i = 0; i < a.size(); i++) {
                String f = path + ".ips[" + i + "]";
                if (!a.get(i).isTextual()) {
                    throw new FieldError(f, "type", "must be a string such as 198.18.0.10/24");
                }
                try {
                    ips.add(IpAddress.parseCidr(a.get(i).asText(), f));
                } catch (IllegalArgumentException e) {
                    throw fromRecord(e, "");
                }
            }
        }
        Optional<InetAddress> gw = Optional.empty();
        if (n.hasNonNull("gateway")) {
            try {
                gw = Optional.of(IpAddress.parseAddress(text(n, "gateway", path + ".gateway", true), path + ".gateway"));
            } catch (FieldError e) {
                throw e;
            } catch (IllegalArgumentException e) {
                throw fromRecord(e, "");
            }
        }
        try {
            return new VifSpec(portId, mac, bridge, mtu, vlan, ips, gw);
        } catch (IllegalArgumentException e) {
            // VifSpec names fields "vif.x"; say which VIF
            throw fromRecord(e, path);
        }
    }

    /** Turns a record's (or a driver's validate) "field: message" IllegalArgumentException into a FieldError. */
    public static FieldError fromRecord(IllegalArgumentException e, String vifPath) {
        String msg = String.valueOf(e.getMessage());
        int colon = msg.indexOf(": ");
        String field = colon > 0 ? msg.substring(0, colon) : "body";
        String rest = colon > 0 ? msg.substring(colon + 2) : msg;
        if (field.startsWith("instance.")) {
            field = field.substring("instance.".length());
        } else if (field.startsWith("vif.") && !vifPath.isEmpty()) {
            field = vifPath + field.substring(3);
        }
        return new FieldError(field, "invalid", rest);
    }

    private static void unknown(JsonNode n, String path, Set<String> known) {
        n.fieldNames().forEachRemaining(k -> {
            if (!known.contains(k)) {
                throw new FieldError(path + "." + k, "unknown_field", "is not a field of " + path + "; fields: "
                        + String.join(", ", known.stream().sorted().toList()));
            }
        });
    }

    private static void requireObject(JsonNode n, String path) {
        if (n == null || !n.isObject()) {
            throw new FieldError(path, "type", "must be a JSON object");
        }
    }

    private static JsonNode required(JsonNode n, String key, String path) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            throw new FieldError(path, "required", "must be given");
        }
        return v;
    }

    private static String text(JsonNode n, String key, String path, boolean required) {
        JsonNode v = required ? required(n, key, path) : n.get(key);
        if (!v.isTextual()) {
            throw new FieldError(path, "type", "must be a string");
        }
        return v.asText();
    }

    private static int integer(JsonNode n, String key, String path, Integer fallback) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            if (fallback == null) {
                throw new FieldError(path, "required", "must be given");
            }
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new FieldError(path, "type", "'" + cut(v.asText()) + "' must be a whole number within 32 bits");
        }
        return v.asInt();
    }

    /** A UUID in canonical 8-4-4-4-12 form. */
    public static UUID uuid(JsonNode v, String path) {
        if (!v.isTextual() || !UUID_TEXT.matcher(v.asText()).matches()) {
            throw new FieldError(path, "uuid", "'" + cut(v.asText()) + "' must be a UUID (8-4-4-4-12 hex digits)");
        }
        return UUID.fromString(v.asText());
    }

    public static boolean isUuid(String text) {
        return UUID_TEXT.matcher(text).matches();
    }

    private static String cut(String s) {
        String c = s.length() > 64 ? s.substring(0, 64) + "…" : s;
        return c.replaceAll("\\p{Cntrl}", "?");
    }

    public static ObjectNode write(InstanceSpec spec) {
        ObjectNode n = JSON.createObjectNode();
        n.put("uuid", spec.uuid().toString()).put("name", spec.name());
        ObjectNode f = n.putObject("flavor");
        f.put("name", spec.flavor().name()).put("vcpus", spec.flavor().vcpus())
                .put("memory_mb", spec.flavor().memoryMb()).put("root_gb", spec.flavor().rootGb())
                .put("ephemeral_gb", spec.flavor().ephemeralGb()).put("swap_mb", spec.flavor().swapMb());
        n.put("image_id", spec.imageId());
        ArrayNode vifs = n.putArray("vifs");
        for (VifSpec v : spec.vifs()) {
            ObjectNode o = vifs.addObject();
            o.put("port_id", v.portId()).put("mac", v.mac()).put("bridge", v.bridge()).put("mtu", v.mtu());
            v.vlan().ifPresent(t -> o.put("vlan", t));
            ArrayNode ips = o.putArray("ips");
            v.ips().forEach(ip -> ips.add(ip.toString()));
            v.gateway().ifPresent(g -> o.put("gateway", g.getHostAddress()));
        }
        ObjectNode props = n.putObject("properties");
        spec.properties().forEach(props::put);
        n.put("power_on", spec.powerOn());
        GuestConfig g = spec.guest();
        n.put("hostname", g.hostname());
        ObjectNode meta = n.putObject("metadata");
        g.metadata().forEach(meta::put);
        ObjectNode keys = n.putObject("public_keys");
        g.publicKeys().forEach(keys::put);
        g.userData().ifPresent(u -> n.put("user_data", u));
        g.configDrive().ifPresent(c -> n.put("config_drive", c));
        g.projectId().ifPresent(p -> n.put("project_id", p));
        n.put("availability_zone", g.availabilityZone());
        return n;
    }

    public static String writeString(InstanceSpec spec) {
        return write(spec).toString();
    }

    public static InstanceSpec readString(String json) {
        try {
            return read(JSON.readTree(json), Set.of(), "br-int");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new FieldError("spec_json", "json", e.getOriginalMessage());
        }
    }
}
