package org.berth.metadata;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;

class MetadataDocumentsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOAi8DCad64FWUWjXvAzu5GNWRhC6u6RluroDikfPca1 test@berth";

    private static InstanceSpec spec(List<VifSpec> vifs) throws Exception {
        var guest = new GuestConfig("web-1", Map.of("role", "web"), Map.of("k1", KEY),
                Optional.of(Base64.getEncoder().encodeToString("#cloud-config\n".getBytes(StandardCharsets.UTF_8))),
                Optional.empty(), Optional.of("p1"), "az1");
        return new InstanceSpec(UUID.fromString("11111111-2222-4333-8444-555555555555"), "web_1",
                new Flavor("m1", 1, 128, 1, 0, 0), UUID.randomUUID().toString(), vifs, Map.of(), true, guest);
    }

    private static JsonNode file(List<MetadataFile> files, String path) throws Exception {
        return JSON.readTree(files.stream().filter(f -> f.path().equals(path)).findFirst().orElseThrow().content());
    }

    @Test
    void metaDataCarriesWhatNovaWrites() throws Exception {
        List<MetadataFile> files = MetadataDocuments.of(spec(List.of()));
        JsonNode m = file(files, "openstack/latest/meta_data.json");
        assertEquals("11111111-2222-4333-8444-555555555555", m.get("uuid").asText());
        assertEquals("web-1", m.get("hostname").asText());
        assertEquals("web_1", m.get("name").asText());
        assertEquals("az1", m.get("availability_zone").asText());
        assertEquals("p1", m.get("project_id").asText());
        assertEquals(0, m.get("launch_index").asInt());
        assertEquals(KEY, m.get("public_keys").get("k1").asText());
        assertEquals("ssh", m.get("keys").get(0).get("type").asText());
        assertEquals("web", m.get("meta").get("role").asText());
        assertEquals(512, Base64.getDecoder().decode(m.get("random_seed").asText()).length);
        // the oldest version has the keys but no random_seed and no network_data.json, as on Nova
        assertEquals(KEY, file(files, "openstack/2012-08-10/meta_data.json").at("/keys/0/data").asText());
        assertFalse(file(files, "openstack/2012-08-10/meta_data.json").has("random_seed"));
        assertTrue(files.stream().noneMatch(f -> f.path().equals("openstack/2012-08-10/network_data.json")));
        assertEquals("#cloud-config\n", new String(files.stream()
                .filter(f -> f.path().equals("openstack/latest/user_data")).findFirst().orElseThrow().content(),
                StandardCharsets.UTF_8));
    }

    @Test
    void ipv6InItsShortForm() throws Exception {
        assertEquals("::", NetworkData.text(InetAddress.getByName("::")));
        assertEquals("::1", NetworkData.text(InetAddress.getByName("::1")));
        assertEquals("fd00:0:1::", NetworkData.text(InetAddress.getByName("fd00:0:1:0:0:0:0:0")));
        assertEquals("2001:db8::1:0:0:1", NetworkData.text(InetAddress.getByName("2001:db8:0:0:1:0:0:1")));
        assertEquals("2001:db8:0:1:1:1:1:1", NetworkData.text(InetAddress.getByName("2001:db8:0:1:1:1:1:1")));
        assertEquals("198.18.0.1", NetworkData.text(InetAddress.getByName("198.18.0.1")));
    }

    @Test
    void metaIsLeftOutWhenEmpty() throws Exception {
        InstanceSpec bare = InstanceSpec.of(UUID.randomUUID(), "bare", new Flavor("m1", 1, 128, 1, 0, 0),
                UUID.randomUUID().toString());
        JsonNode m = file(MetadataDocuments.of(bare), "openstack/latest/meta_data.json");
        assertFalse(m.has("meta") || m.has("public_keys") || m.has("keys"), m.toString());
        assertEquals("bare", m.get("hostname").asText());
    }

    @Test
    void networkDataHasALinkPerVifAndStaticOrDhcpNetworks() throws Exception {
        var v1 = new VifSpec("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "fa:16:3e:00:00:01", "br-int", 1450, Optional.empty(),
                List.of(IpAddress.parseCidr("198.18.5.10/24", "ip"), IpAddress.parseCidr("fd00::10/64", "ip")),
                Optional.of(InetAddress.getByName("198.18.5.1")));
        var v2 = VifSpec.of("bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee", "fa:16:3e:00:00:02");
        JsonNode n = file(MetadataDocuments.of(spec(List.of(v1, v2))), "openstack/latest/network_data.json");
        assertEquals(2, n.get("links").size());
        JsonNode l = n.get("links").get(0);
        assertEquals("tapaaaaaaaa-bb", l.get("id").asText());
        assertEquals(1450, l.get("mtu").asInt());
        assertEquals("fa:16:3e:00:00:01", l.get("ethernet_mac_address").asText());
        JsonNode v4 = n.get("networks").get(0);
        assertEquals("ipv4", v4.get("type").asText());
        assertEquals("198.18.5.10", v4.get("ip_address").asText());
        assertEquals("255.255.255.0", v4.get("netmask").asText());
        assertEquals("198.18.5.1", v4.get("routes").get(0).get("gateway").asText());
        JsonNode v6 = n.get("networks").get(1);
        assertEquals("ipv6", v6.get("type").asText());
        assertEquals("ffff:ffff:ffff:ffff::", v6.get("netmask").asText());
        assertEquals("fd00::10", v6.get("ip_address").asText());
        assertEquals(0, v6.get("routes").size(), "a v4 gateway is no v6 route");
        JsonNode dhcp = n.get("networks").get(2);
        assertEquals("ipv4_dhcp", dhcp.get("type").asText());
        assertEquals("tapbbbbbbbb-bb", dhcp.get("link").asText());
    }
}
