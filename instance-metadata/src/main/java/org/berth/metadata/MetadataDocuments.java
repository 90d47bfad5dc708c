package org.berth.metadata;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.InstanceSpec;

/**
 * The documents a guest reads at boot, laid out as on Nova's config drive: {@code openstack/<version>/} with
 * {@code meta_data.json}, {@code network_data.json}, {@code vendor_data.json}, {@code vendor_data2.json} and
 * {@code user_data} (when given), for {@code latest} and each dated version that had them. Both drivers write
 * exactly these files: the kvm driver onto an ISO 9660 volume labelled {@value #LABEL}, the docker driver into a
 * read-only directory of the container.
 */
public final class MetadataDocuments {
    /** The volume label cloud-init's ConfigDrive datasource looks for. */
    public static final String LABEL = "config-2";

    /** Nova's metadata versions, oldest first, and the first one that has each document. */
    private static final List<String> VERSIONS = List.of("2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15",
            "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14", "latest");
    private static final String VENDOR_DATA = "2013-10-17";
    private static final String NETWORK_DATA = "2015-10-15";
    private static final String VENDOR_DATA2 = "2016-10-06";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();

    private MetadataDocuments() {
    }

    /** Every file of the tree for {@code spec} (its VIFs as they are now), paths relative to the volume's root. */
    public static List<MetadataFile> of(InstanceSpec spec) {
        byte[] network = bytes(NetworkData.of(spec.vifs(), JSON));
        byte[] vendor = bytes(JSON.createObjectNode());
        byte[] userData = spec.guest().userDataBytes().orElse(null);
        List<MetadataFile> files = new ArrayList<>();
        for (String version : VERSIONS) {
            String dir = "openstack/" + version + "/";
            files.add(new MetadataFile(dir + "meta_data.json", bytes(metaData(spec, version))));
            if (atLeast(version, VENDOR_DATA)) {
                files.add(new MetadataFile(dir + "vendor_data.json", vendor));
            }
            if (atLeast(version, NETWORK_DATA)) {
                files.add(new MetadataFile(dir + "network_data.json", network));
            }
            if (atLeast(version, VENDOR_DATA2)) {
                files.add(new MetadataFile(dir + "vendor_data2.json", vendor));
            }
            if (userData != null) {
                files.add(new MetadataFile(dir + "user_data", userData));
            }
        }
        return List.copyOf(files);
    }

    /** {@code meta_data.json} for one version, as Nova's {@code InstanceMetadata} writes it. */
    static ObjectNode metaData(InstanceSpec spec, String version) {
        GuestConfig g = spec.guest();
        ObjectNode m = JSON.createObjectNode();
        m.put("uuid", spec.uuid().toString());
        if (!g.metadata().isEmpty()) {
            ObjectNode meta = m.putObject("meta");
            g.metadata().forEach(meta::put);
        }
        if (!g.publicKeys().isEmpty()) {
            ObjectNode keys = m.putObject("public_keys");
            g.publicKeys().forEach(keys::put);
            ArrayNode list = m.putArray("keys");
            g.publicKeys().forEach((name, key) -> list.addObject().put("name", name).put("type", "ssh")
                    .put("data", key));
        }
        m.put("hostname", g.hostname());
        m.put("name", spec.name());
        m.put("launch_index", 0);
        m.put("availability_zone", g.availabilityZone());
        if (atLeast(version, "2013-04-04")) {
            // cloud-init seeds the guest's entropy pool with it, as on Nova
            byte[] seed = new byte[512];
            RANDOM.nextBytes(seed);
            m.put("random_seed", Base64.getEncoder().encodeToString(seed));
        }
        if (atLeast(version, NETWORK_DATA)) {
            g.projectId().ifPresent(p -> m.put("project_id", p));
        }
        if (atLeast(version, "2016-06-30")) {
            m.putArray("devices");
        }
        if (atLeast(version, "2020-10-14")) {
            m.putArray("dedicated_cpus");
        }
        return m;
    }

    private static boolean atLeast(String version, String first) {
        return "latest".equals(version) || version.compareTo(first) >= 0;
    }

    private static byte[] bytes(ObjectNode node) {
        try {
            return JSON.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a tree of strings and numbers always serialises", e);
        }
    }
}
