package org.berth.driver.kvm;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.VifSpec;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/** Builds a libvirt domain definition with the DOM API; user values only ever become text or attribute nodes. */
final class DomainXml {
    /**
     * Where an instance's files are and how it boots.
     *
     * @param root       the root disk (a qcow2 overlay)
     * @param ephemeral  the ephemeral disk, or null
     * @param swap       the swap disk, or null
     * @param kernel     a kernel to boot directly, or null to boot from the root disk
     * @param initrd     the ramdisk for {@code kernel}, or null
     * @param cmdline    the kernel command line (without Berth's guest parameters), used with {@code kernel}
     * @param consoleLog  the serial console log file
     * @param configDrive the config drive (ISO 9660, attached read-only as an IDE cdrom), or null for none
     */
    record Layout(Path root, Path ephemeral, Path swap, Path kernel, Path initrd, String cmdline, Path consoleLog,
                  Path configDrive) {
    }

    /**
     * How often QEMU asks the guest's balloon driver for its memory statistics (Nova's default
     * {@code mem_stats_period_seconds}); the agent samples every 10 s by default too.
     */
    static final int MEM_STATS_PERIOD_SECONDS = 10;

    private DomainXml() {
    }

    /** The domain of {@code spec}; {@code owner} (the driver context's) goes on Berth's metadata element. */
    static String build(InstanceSpec spec, String owner, KvmConfig.VirtType virtType,
                        KvmConfig.GuestOffloads offloads, Layout layout, boolean withVifs) {
        Document doc = Xml.newDocument();
        Element domain = Xml.child(doc, "domain", "type", virtType.domainType());
        Xml.text(domain, "name", spec.backendName());
        Xml.text(domain, "uuid", spec.uuid().toString());
        Xml.text(domain, "title", spec.name());
        SpecXml.write(Xml.child(domain, "metadata"), spec).setAttribute(SpecXml.OWNER, owner);
        Xml.text(domain, "memory", Integer.toString(spec.flavor().memoryMb()), "unit", "MiB");
        Xml.text(domain, "vcpu", Integer.toString(spec.flavor().vcpus()));

        // a guest with a config drive reads its network and hostname there; the parameters are the fallback
        List<String> params = layout.configDrive() == null ? guestParams(spec) : List.of();
        if (!params.isEmpty()) {
            Element oem = Xml.child(Xml.child(domain, "sysinfo", "type", "smbios"), "oemStrings");
            params.forEach(p -> Xml.text(oem, "entry", p));
        }
        Element os = Xml.child(domain, "os");
        Xml.text(os, "type", "hvm", "arch", "x86_64", "machine", "pc");
        if (layout.kernel() != null) {
            Xml.text(os, "kernel", layout.kernel().toString());
            if (layout.initrd() != null) {
                Xml.text(os, "initrd", layout.initrd().toString());
            }
            String cmdline = (layout.cmdline() == null ? "" : layout.cmdline() + " ") + String.join(" ", params);
            Xml.text(os, "cmdline", cmdline.strip());
        } else {
            Xml.child(os, "boot", "dev", "hd");
        }
        if (!params.isEmpty()) {
            Xml.child(os, "smbios", "mode", "sysinfo");
        }
        Element features = Xml.child(domain, "features");
        Xml.child(features, "acpi");
        Xml.child(features, "apic");
        if (virtType == KvmConfig.VirtType.KVM) {
            Xml.child(domain, "cpu", "mode", "host-passthrough");
        }
        Xml.text(domain, "on_poweroff", "destroy");
        Xml.text(domain, "on_reboot", "restart");
        Xml.text(domain, "on_crash", "destroy");

        Element devices = Xml.child(domain, "devices");
        disk(devices, layout.root(), "vda");
        if (layout.ephemeral() != null) {
            disk(devices, layout.ephemeral(), "vdb");
        }
        if (layout.swap() != null) {
            disk(devices, layout.swap(), layout.ephemeral() != null ? "vdc" : "vdb");
        }
        if (layout.configDrive() != null) {
            configDrive(devices, layout.configDrive());
        }
        Element serial = Xml.child(devices, "serial", "type", "pty");
        // virtlogd writes (and caps) the log; append='off' starts it afresh at each boot.
        Xml.child(serial, "log", "file", layout.consoleLog().toString(), "append", "off");
        Xml.child(serial, "target", "port", "0");
        Xml.child(Xml.child(devices, "console", "type", "pty"), "target", "type", "serial", "port", "0");
        if (withVifs) {
            for (VifSpec vif : spec.vifs()) {
                devices.appendChild(doc.importNode(interfaceElement(vif, offloads), true));
            }
        }
        // the balloon only for its statistics (never resized): the guest's own memory figures in the bulk stats
        Xml.child(Xml.child(devices, "memballoon", "model", "virtio"), "stats", "period",
                Integer.toString(MEM_STATS_PERIOD_SECONDS));
        return Xml.write(doc);
    }

    /** The {@code <interface>} of one VIF, as used in the definition and for hot-plug. */
    static String interfaceXml(VifSpec vif, KvmConfig.GuestOffloads offloads) {
        return Xml.write(interfaceElement(vif, offloads));
    }

    private static Element interfaceElement(VifSpec vif, KvmConfig.GuestOffloads offloads) {
        Document doc = Xml.newDocument();
        Element nic = Xml.child(doc, "interface", "type", "ethernet");
        Xml.child(nic, "mac", "address", vif.mac());
        Xml.child(nic, "target", "dev", vif.devName(), "managed", "no");
        Xml.child(nic, "model", "type", "virtio");
        Xml.child(nic, "mtu", "size", Integer.toString(vif.mtu()));
        if (offloads == KvmConfig.GuestOffloads.OFF) {
            // virtio-net's csum/gso/host_tso*/guest_* properties: no partial checksum or GSO frame on the tap
            Element driver = Xml.child(nic, "driver", "name", "qemu");
            Xml.child(driver, "host", "csum", "off", "gso", "off", "tso4", "off", "tso6", "off", "ecn", "off",
                    "ufo", "off");
            Xml.child(driver, "guest", "csum", "off", "tso4", "off", "tso6", "off", "ecn", "off", "ufo", "off");
        }
        return nic;
    }

    private static void disk(Element devices, Path file, String target) {
        Element disk = Xml.child(devices, "disk", "type", "file", "device", "disk");
        Xml.child(disk, "driver", "name", "qemu", "type", "qcow2", "discard", "unmap");
        Xml.child(disk, "source", "file", file.toString());
        Xml.child(disk, "target", "dev", target, "bus", "virtio");
    }

    /**
     * The config drive as Nova attaches it on x86: a read-only cdrom on the IDE bus as the last IDE device (hdd),
     * apart from the virtio disks. Machine type {@code pc} has IDE (piix), which Debian's cloud kernel drives
     * (ata_piix, sr_mod); it has no AHCI driver for a SATA cdrom.
     */
    private static void configDrive(Element devices, Path file) {
        Element disk = Xml.child(devices, "disk", "type", "file", "device", "cdrom");
        Xml.child(disk, "driver", "name", "qemu", "type", "raw");
        Xml.child(disk, "source", "file", file.toString());
        Xml.child(disk, "target", "dev", "hdd", "bus", "ide");
        Xml.child(disk, "readonly");
    }

    /**
     * The test guest's parameters from the first VIF: {@code berth.ip=}, {@code berth.gw=}, {@code berth.mac=},
     * {@code berth.mtu=}, plus {@code berth.hostname=} (the guest config's). Passed on the kernel command line and as
     * SMBIOS OEM strings, only to instances without a config drive (images that cannot read one).
     */
    static List<String> guestParams(InstanceSpec spec) {
        List<String> params = new ArrayList<>();
        if (spec.vifs().isEmpty()) {
            return params;
        }
        params.add("berth.hostname=" + spec.guest().hostname()); // RFC 1123: one word, unlike the name
        VifSpec vif = spec.vifs().getFirst();
        Optional<IpAddress> v4 = vif.ips().stream()
                .filter(ip -> ip.address() instanceof java.net.Inet4Address).findFirst();
        v4.or(() -> vif.ips().stream().findFirst()).ifPresent(ip -> params.add("berth.ip=" + ip));
        vif.gateway().ifPresent(gw -> params.add("berth.gw=" + gw.getHostAddress()));
        params.add("berth.mac=" + vif.mac());
        params.add("berth.mtu=" + vif.mtu());
        return params;
    }
}
