package org.berth.driver.kvm;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import org.berth.driver.api.CpuInfo;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.libvirt.NodeInfo;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** Raw host facts from libvirt (nodeInfo, capabilities) and the file system holding instance disks. */
final class HostProbe {
    /** Host totals before usage is added. */
    record Host(int vcpus, long memoryMb, long localGb, long version, String hostname, CpuInfo cpu) {
    }

    private HostProbe() {
    }

    static Host read(Connect connect, Path stateDir) throws LibvirtException {
        NodeInfo node = connect.nodeInfo();
        long version = connect.getVersion();
        String hostname = connect.getHostName();
        CpuInfo cpu = cpuInfo(connect.getCapabilities(), node);
        return new Host(Math.max(1, node.cpus), Math.max(1, node.memory / 1024), diskGb(stateDir), version,
                hostname, cpu);
    }

    static CpuInfo cpuInfo(String capabilitiesXml, NodeInfo node) {
        String arch = "x86_64";
        String model = node.model == null ? "" : node.model;
        String vendor = "";
        int sockets = Math.max(1, node.sockets);
        int cores = Math.max(1, node.cores);
        int threads = Math.max(1, node.threads);
        Element caps = Xml.parse(capabilitiesXml).getDocumentElement();
        NodeList cpus = caps.getElementsByTagName("cpu");
        if (cpus.getLength() > 0) {
            Element cpu = (Element) cpus.item(0);
            arch = textOr(cpu, "arch", arch);
            model = textOr(cpu, "model", model);
            vendor = textOr(cpu, "vendor", vendor);
            NodeList topo = cpu.getElementsByTagName("topology");
            if (topo.getLength() > 0) {
                Element t = (Element) topo.item(0);
                sockets = intOr(t, "sockets", sockets);
                cores = intOr(t, "cores", cores);
                threads = intOr(t, "threads", threads);
            }
        }
        return new CpuInfo(arch, model, vendor, sockets, cores, threads);
    }

    private static String textOr(Element parent, String tag, String fallback) {
        NodeList l = parent.getElementsByTagName(tag);
        return l.getLength() == 0 ? fallback : l.item(0).getTextContent().trim();
    }

    private static int intOr(Element e, String attribute, int fallback) {
        try {
            return Math.max(1, Integer.parseInt(e.getAttribute(attribute)));
        } catch (NumberFormatException ex) {
            return fallback;
        }
    }

    private static long diskGb(Path stateDir) {
        try {
            FileStore store = Files.getFileStore(stateDir);
            return store.getTotalSpace() / (1024L * 1024 * 1024);
        } catch (IOException e) {
            return 0;
        }
    }
}
