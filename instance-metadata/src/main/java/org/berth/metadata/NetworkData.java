package org.berth.metadata;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.VifSpec;

/**
 * {@code network_data.json} as Nova's {@code netutils.get_network_metadata} writes it: one link per VIF (id = the
 * tap device name, {@code vif_id} = the port id, type {@code ovs}, mtu, MAC), one network per fixed IP (static
 * {@code ipv4}/{@code ipv6} with a netmask and the VIF's gateway as default route; Nova writes one per subnet, a
 * Berth VIF knows addresses, not subnets) or {@code ipv4_dhcp} for a VIF without addresses, and no DNS services (a
 * Berth VIF carries none).
 */
final class NetworkData {
    private NetworkData() {
    }

    static ObjectNode of(List<VifSpec> vifs, ObjectMapper json) {
        ObjectNode root = json.createObjectNode();
        ArrayNode links = root.putArray("links");
        ArrayNode networks = root.putArray("networks");
        int n = 0;
        for (VifSpec vif : vifs) {
            links.addObject().put("id", vif.devName()).put("vif_id", vif.portId()).put("type", "ovs")
                    .put("mtu", vif.mtu()).put("ethernet_mac_address", vif.mac());
            if (vif.ips().isEmpty()) {
                networks.addObject().put("id", "network" + n++).put("type", "ipv4_dhcp").put("link", vif.devName())
                        .put("network_id", vif.portId());
                continue;
            }
            for (IpAddress ip : vif.ips()) {
                boolean v4 = ip.address() instanceof Inet4Address;
                ObjectNode net = networks.addObject();
                net.put("id", "network" + n++).put("type", v4 ? "ipv4" : "ipv6").put("link", vif.devName())
                        .put("ip_address", text(ip.address()))
                        .put("netmask", netmask(ip.prefixLength(), v4 ? 4 : 16));
                ArrayNode routes = net.putArray("routes");
                vif.gateway().filter(gw -> (gw instanceof Inet4Address) == v4).ifPresent(gw -> routes.addObject()
                        .put("network", v4 ? "0.0.0.0" : "::").put("netmask", v4 ? "0.0.0.0" : "::")
                        .put("gateway", text(gw)));
                // Nova writes the Neutron network's id here; a Berth VIF knows only its port, which names it as well
                net.put("network_id", vif.portId());
                net.putArray("services");
            }
        }
        root.putArray("services");
        return root;
    }

    /** The netmask of a prefix length in the address family's text form ({@code 255.255.255.0}, {@code ffff::}). */
    static String netmask(int prefix, int bytes) {
        byte[] mask = new byte[bytes];
        for (int i = 0; i < prefix; i++) {
            mask[i / 8] |= (byte) (0x80 >>> (i % 8));
        }
        try {
            return text(InetAddress.getByAddress(mask));
        } catch (UnknownHostException e) {
            throw new IllegalStateException("a " + bytes + "-byte address is always valid", e);
        }
    }

    /**
     * An address as Nova (netaddr) writes it: IPv4 dotted, IPv6 in RFC 5952's short form (the longest run of two or
     * more zero groups as {@code ::}, the first such run on a tie), where Java would write every group.
     */
    static String text(InetAddress address) {
        if (address instanceof Inet4Address) {
            return address.getHostAddress();
        }
        byte[] b = address.getAddress();
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = (b[2 * i] & 0xff) << 8 | b[2 * i + 1] & 0xff;
        }
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = j == i ? i + 1 : j;
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                out.append("::");
                i += bestLength - 1;
                continue;
            }
            if (out.length() > 0 && out.charAt(out.length() - 1) != ':') {
                out.append(':');
            }
            out.append(Integer.toHexString(groups[i]));
        }
        return out.toString();
    }
}
