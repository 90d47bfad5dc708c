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
import org.berth.driver.api.GuestConfig;
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
        spec.properties().entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> encoded(el(root, "property"), e.getValue()).setAttribute("key", e.getKey()));
        writeGuest(el(root, "guest"), spec.guest());
        return root;
    }

    /**
     * {@code <berth:guest hostname= availability_zone= [config_drive=] [project_id=]>} with {@code <berth:meta key=>},
     * {@code <berth:key name=>} and {@code <berth:user_data>}. Names, ids and the zone are validated to characters an
     * attribute keeps; free text is base64 (see {@link #encoded}). User data is already base64: it is kept as given
     * (up to 87 KB of text) unless it has a carriage return, which XML parsers turn into a line feed.
     */
    private static void writeGuest(Element g, GuestConfig guest) {
        g.setAttribute("hostname", guest.hostname());
        g.setAttribute("availability_zone", guest.availabilityZone());
        guest.configDrive().ifPresent(b -> g.setAttribute("config_drive", Boolean.toString(b)));
        guest.projectId().ifPresent(p -> g.setAttribute("project_id", p));
        guest.metadata().forEach((k, v) -> encoded(el(g, "meta"), v).setAttribute("key", k));
        guest.publicKeys().forEach((name, key) -> encoded(el(g, "key"), key).setAttribute("name", name));
        guest.userData().ifPresent(u -> {
            if (u.indexOf('\r') >= 0) {
                encoded(el(g, "user_data"), u);
            } else {
                el(g, "user_data").setTextContent(u);
            }
        });
    }

    /** Free text as base64: keeps characters XML 1.0 cannot carry (and libvirt's whitespace handling) intact. */
    private static Element encoded(Element e, String value) {
        e.setAttribute("encoding", "base64");
        e.setTextContent(Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8)));
        return e;
    }

    private static String decoded(Element e) {
        String raw = e.getTextContent().trim();
        return "base64".equals(e.getAttribute("encoding"))
                ? new String(Base64.getDecoder().decode(raw), StandardCharsets.UTF_8) : raw;
    }

    /** The guest config, or Nova's defaults for the name when the domain predates it. */
    private static GuestConfig readGuest(Element root, String name) {
        Element g = child(root, "guest");
        if (g == null) {
            return GuestConfig.forName(name);
        }
        Map<String, String> meta = new HashMap<>();
        for (Element m : children(g, "meta")) {
            meta.put(m.getAttribute("key"), decoded(m));
        }
        Map<String, String> keys = new HashMap<>();
        for (Element k : children(g, "key")) {
            keys.put(k.getAttribute("name"), decoded(k));
        }
        Element u = child(g, "user_data");
        Optional<String> userData = u == null ? Optional.empty()
                : Optional.of("base64".equals(u.getAttribute("encoding")) ? decoded(u) : u.getTextContent());
        Optional<Boolean> drive = g.hasAttribute("config_drive")
                ? Optional.of(Boolean.parseBoolean(g.getAttribute("config_drive"))) : Optional.empty();
        Optional<String> project = g.hasAttribute("project_id")
                ? Optional.of(g.getAttribute("project_id")) : Optional.empty();
        return new GuestConfig(g.getAttribute("hostname"), meta, keys, userData, drive, project,
                g.getAttribute("availability_zone"));
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
        for (Element p : children(root, "property")) {
            props.put(p.getAttribute("key"), decoded(p));
        }
        String name = text(root, "name");
        return new InstanceSpec(uuid, name, flavor, imageId, vifs, props, powerOn, readGuest(root, name));
    }

    /** The direct children of {@code parent} named {@code berth:local}, in document order. */
    private static List<Element> children(Element parent, String local) {
        List<Element> found = new ArrayList<>();
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element e && NS.equals(e.getNamespaceURI()) && local.equals(e.getLocalName())) {
                found.add(e);
            }
        }
        return found;
    }

    private static Element child(Element parent, String local) {
        List<Element> found = children(parent, local);
        return found.isEmpty() ? null : found.getFirst();
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
