package org.berth.driver.api;

import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One virtual interface of an instance: a Neutron port bound on this host.
 *
 * @param portId  the Neutron port id (a UUID); becomes the OVS {@code iface-id} and names the device
 * @param mac     the port's MAC address, {@code xx:xx:xx:xx:xx:xx}, unicast (Neutron uses {@code fa:16:3e:})
 * @param bridge  the OVS bridge to plug into, usually {@code br-int}
 * @param mtu     the MTU from the port's network (68..65535): taken from here, never assumed to be 1500
 * @param vlan    an access VLAN tag (1..4094) for the OVS port, or empty for none (OVN/ML2 set tags themselves)
 * @param ips     the port's fixed IPs with prefix length; configured inside containers, passed to VMs' metadata
 * @param gateway default gateway, or empty
 */
public record VifSpec(String portId, String mac, String bridge, int mtu, Optional<Integer> vlan,
                      List<IpAddress> ips, Optional<InetAddress> gateway) {
    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    private static final Pattern BRIDGE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,14}");

    public VifSpec {
        portId = Ids.uuid(portId, "vif.port_id");
        Check.notBlank(mac, "vif.mac");
        mac = mac.toLowerCase(Locale.ROOT);
        if (!MAC.matcher(mac).matches()) {
            throw new IllegalArgumentException("vif.mac: '" + Check.printable(mac)
                    + "' must be six hex pairs separated by ':', e.g. fa:16:3e:12:34:56");
        }
        if ((Integer.parseInt(mac.substring(0, 2), 16) & 1) != 0) {
            throw new IllegalArgumentException("vif.mac: '" + mac + "' is a multicast address; a port needs a unicast MAC");
        }
        Check.notBlank(bridge, "vif.bridge");
        if (!BRIDGE.matcher(bridge).matches()) {
            throw new IllegalArgumentException("vif.bridge: '" + Check.printable(bridge)
                    + "' must be 1-15 characters of letters, digits, '_', '.', '-'");
        }
        Check.between(mtu, 68, 65535, "vif.mtu");
        Check.notNull(vlan, "vif.vlan");
        vlan.ifPresent(tag -> Check.between(tag, 1, 4094, "vif.vlan"));
        ips = List.copyOf(Check.notNull(ips, "vif.ips"));
        Check.notNull(gateway, "vif.gateway");
    }

    /** A VIF on {@code br-int} with MTU 1500 and no addresses. */
    public static VifSpec of(String portId, String mac) {
        return new VifSpec(portId, mac, "br-int", 1500, Optional.empty(), List.of(), Optional.empty());
    }

    /** The host-side device name as Nova and os-vif spell it: {@code tap} + the first 11 characters of the port id. */
    public String devName() {
        return "tap" + portId.substring(0, 11);
    }

    /** The container-side end of a veth pair before it moves into the container: {@code ns} + 11 characters. */
    public String nsDevName() {
        return "ns" + portId.substring(0, 11);
    }

    public VifSpec withIps(List<IpAddress> newIps, Optional<InetAddress> newGateway) {
        return new VifSpec(portId, mac, bridge, mtu, vlan, newIps, newGateway);
    }
}
