package org.berth.driver.kvm;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.VifSpec;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The {@link InstanceSpec} as an element in Berth's namespace, stored in the domain's {@code <metadata>} (and in
 * the instance directory), so that list() and hard reboot rebuild everything from libvirt alone.
 */
final class SpecXml {
    static final String NS = "https://berth.org/xmlns/instance/1";
    /** Attribute of the instance element: the {@code DriverContext.owner()} of the driver that defined the domain. */
    static final String OWNER = "owner";
    private static final String P = "berth:";

    private SpecXml() {
    }

    static Element write(Node parent, InstanceSpec spec) {
        Document doc = parent instanceof Document d ? d : parent.getOwnerDocument();
        Element root = doc.createElementNS(NS, P + "instance");
        parent.appendChild(root);
        el(root, "uuid").setTextContent(spec.uuid().toString());
        el(root, "name").setTextContent(spec.name());
        Flavor f = spec.flavor();
        Element flavor = el(root, "flavor");
        flavor.setAttribute("name", f.name());
        flavor.setAttribute("vcpus", Integer.toString(f.vcpus()));
        flavor.setAttribute("memory_mb", Integer.toString(f.memoryMb()));
        flavor.setAttribute("root_gb", Integer.toString(f.rootGb()));
        flavor.setAttribute("ephemeral_gb", Integer.toString(f.ephemeralGb()));
        flavor.setAttribute("swap_mb", Integer.toString(f.swapMb()));
        el(root, "image").setAttribute("id", spec.imageId());
        el(root, "power_on").setTextContent(Boolean.toString(spec.powerOn()));
        for (VifSpec vif : spec.vifs()) {
            Element v = el(root, "vif");
            v.setAttribute("port_id", vif.portId());
            v.setAttribute("mac", vif.mac());
            v.setAttribute("bridge", vif.bridge());
            v.setAttribute("mtu", Integer.toString(vif.mtu()));
            vif.vlan().ifPresent(tag -> v.setAttribute("vlan", Integer.toString(tag)));
            vif.gateway().ifPresent(gw -> v.setAttribute("gateway", gw.getHostAddress()));
            for (IpAddress ip : vif.ips()) {
                el(v, "ip").setTextContent(ip.toString());
            }
        }
        spec.properties().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            Element p = el(root, "property");
            p.setAttribute("key", e.getKey());
            // Values are free text; base64 keeps characters XML 1.0 cannot carry (and libvirt's whitespace) intact.
            p.setAttribute("encoding", "base64");
            p.setTextContent(Base64.getEncoder().encodeToString(e.getValue().getBytes(StandardCharsets.UTF_8)));
        });
        return root;
    }

    /** The spec in a domain XML's {@code <metadata>} (or a stored spec document), or empty when there is none. */
    static Optional<InstanceSpec> read(String xml) {
        return root(xml).map(SpecXml::read);
    }

    /** The owner on Berth's metadata element; empty when there is none (a domain defined before owners). */
    static String owner(String xml) {
        return root(xml).map(SpecXml::owner).orElse("");
    }

    static String owner(Element root) {
        return root.getAttribute(OWNER);
    }

    /** Berth's metadata element of a domain (or stored spec) XML, parsed once for {@link #read} and {@link #owner}. */
    static Optional<Element> root(String xml) {
        Element doc = Xml.parse(xml).getDocumentElement();
        Element root = NS.equals(doc.getNamespaceURI()) && "instance".equals(doc.getLocalName())
                ? doc : Xml.first(doc, NS, "instance");
        return Optional.ofNullable(root);
    }

    static InstanceSpec read(Element root) {
        UUID uuid = UUID.fromString(text(root, "uuid"));
        Element f = Xml.first(root, NS, "flavor");
        Flavor flavor = new Flavor(f.getAttribute("name"), num(f, "vcpus"), num(f, "memory_mb"), num(f, "root_gb"),
                num(f, "ephemeral_gb"), num(f, "swap_mb"));
        String imageId = Xml.first(root, NS, "image").getAttribute("id");
        boolean powerOn = Boolean.parseBoolean(text(root, "power_on"));
        List<VifSpec> vifs = new ArrayList<>();
        NodeList vifNodes = root.getElementsByTagNameNS(NS, "vif");
        for (int i = 0; i < vifNodes.getLength(); i++) {
            Element v = (Element) vifNodes.item(i);
            List<IpAddress> ips = new ArrayList<>();
            NodeList ipNodes = v.getElementsByTagNameNS(NS, "ip");
            for (int j = 0; j < ipNodes.getLength(); j++) {
                ips.add(IpAddress.parseCidr(ipNodes.item(j).getTextContent().trim(), "metadata.vif.ip"));
            }
            Optional<Integer> vlan = v.hasAttribute("vlan")
                    ? Optional.of(Integer.parseInt(v.getAttribute("vlan"))) : Optional.empty();
            Optional<java.net.InetAddress> gw = v.hasAttribute("gateway")
                    ? Optional.of(IpAddress.parseAddress(v.getAttribute("gateway"), "metadata.vif.gateway"))
                    : Optional.empty();
            vifs.add(new VifSpec(v.getAttribute("port_id"), v.getAttribute("mac"), v.getAttribute("bridge"),
                    num(v, "mtu"), vlan, ips, gw));
        }
        Map<String, String> props = new HashMap<>();
        NodeList propNodes = root.getElementsByTagNameNS(NS, "property");
        for (int i = 0; i < propNodes.getLength(); i++) {
            Element p = (Element) propNodes.item(i);
            String raw = p.getTextContent().trim();
            props.put(p.getAttribute("key"), "base64".equals(p.getAttribute("encoding"))
                    ? new String(Base64.getDecoder().decode(raw), StandardCharsets.UTF_8) : raw);
        }
        return new InstanceSpec(uuid, text(root, "name"), flavor, imageId, vifs, props, powerOn);
    }

    private static Element el(Element parent, String local) {
        Element e = parent.getOwnerDocument().createElementNS(NS, P + local);
        parent.appendChild(e);
        return e;
    }

    private static String text(Element root, String local) {
        Element e = Xml.first(root, NS, local);
        if (e == null) {
            throw new IllegalArgumentException("metadata: berth:" + local + " is missing");
        }
        return e.getTextContent().trim();
    }

    private static int num(Element e, String attribute) {
        return Integer.parseInt(e.getAttribute(attribute));
    }
}
