package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.LifecycleEvent.Transition;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.libvirt.DomainInfo.DomainState;
import org.libvirt.event.DomainEvent;
import org.libvirt.event.DomainEventType;
import org.w3c.dom.Element;

/** Narrow logic without libvirt: virt_type detection, XML generation, metadata, state mapping, console tail. */
class KvmUnitTest {
    private static final String HOSTILE = "console=ttyS0 ]]></cmdline></os><devices><disk type='file'>"
            + "<source file='/etc/shadow'/></disk></devices><!-- & \"quoted\" \u0001\u0007 ünï";

    @TempDir
    Path tmp;

    @Test
    void autoVirtTypeIsQemuOnThisHost() {
        KvmConfig config = KvmConfig.from(DriverConfig.empty("kvm"));
        boolean hwVirt;
        try {
            hwVirt = Files.readString(Path.of("/proc/cpuinfo")).matches("(?s).*\\b(vmx|svm)\\b.*");
        } catch (java.io.IOException e) {
            hwVirt = false;
        }
        assertEquals(hwVirt ? KvmConfig.VirtType.KVM : KvmConfig.VirtType.QEMU, config.virtType());
        assertEquals("qemu:///system", config.uri());
    }

    @Test
    void autoChoosesKvmOnlyWithCpuFlagsAndUsableDevice() throws Exception {
        Path cpuinfo = Files.writeString(tmp.resolve("cpuinfo"), "processor : 0\nflags : fpu vme vmx sse\n");
        Path noFlags = Files.writeString(tmp.resolve("cpuinfo2"), "processor : 0\nflags : fpu vme sse\n");
        Path dev = Files.writeString(tmp.resolve("kvm"), "");
        assertEquals(KvmConfig.VirtType.KVM, KvmConfig.detect(cpuinfo, dev));
        assertEquals(KvmConfig.VirtType.QEMU, KvmConfig.detect(noFlags, dev));
        assertEquals(KvmConfig.VirtType.QEMU, KvmConfig.detect(cpuinfo, tmp.resolve("missing")));
    }

    @Test
    void invalidConfigNamesTheOption() {
        var e = assertThrows(DriverException.InvalidConfiguration.class, () -> KvmConfig.from(
                new DriverConfig("kvm", Map.of("virt_type", "xen"))));
        assertEquals("drivers.kvm.virt_type", e.option());
    }

    static InstanceSpec hostileSpec() {
        VifSpec vif = new VifSpec(UUID.randomUUID().toString(), "fa:16:3e:00:00:01", "br-int", 1400,
                Optional.of(42), List.of(IpAddress.parseCidr("198.18.0.10/24", "ip")),
                Optional.of(IpAddress.parseAddress("198.18.0.1", "gw")));
        return new InstanceSpec(UUID.randomUUID(), "vm-1", new Flavor("m1.x", 2, 256, 1, 1, 64), UUID.randomUUID()
                .toString(), List.of(vif), Map.of("os_command_line", HOSTILE, "note", "a</berth:instance>b"), true);
    }

    @Test
    void hostileValuesStayTextAndMetadataRoundTrips() {
        InstanceSpec spec = hostileSpec();
        Path dir = Path.of("/var/lib/berth/x");
        var layout = new DomainXml.Layout(dir.resolve("disk"), dir.resolve("disk.eph0"), dir.resolve("disk.swap"),
                dir.resolve("kernel"), dir.resolve("initrd"), spec.property("os_command_line", ""),
                dir.resolve("console.log"), null);
        String xml = DomainXml.build(spec, "agent-7", KvmConfig.VirtType.QEMU, KvmConfig.GuestOffloads.ON,
                layout, true);
        Element domain = Xml.parse(xml).getDocumentElement();
        assertEquals("qemu", domain.getAttribute("type"));
        assertEquals(3, domain.getElementsByTagName("disk").getLength(), "no injected disk");
        assertEquals(1, domain.getElementsByTagName("devices").getLength());
        String cmdline = domain.getElementsByTagName("cmdline").item(0).getTextContent();
        assertTrue(cmdline.startsWith(Xml.clean(HOSTILE)), cmdline);
        assertTrue(cmdline.endsWith("berth.hostname=vm-1 berth.ip=198.18.0.10/24 berth.gw=198.18.0.1 "
                + "berth.mac=fa:16:3e:00:00:01 berth.mtu=1400"), cmdline);
        assertEquals(5, domain.getElementsByTagName("entry").getLength(), "SMBIOS OEM strings");
        Element nic = (Element) domain.getElementsByTagName("interface").item(0);
        assertEquals("ethernet", nic.getAttribute("type"));
        assertEquals(spec.vifs().getFirst().devName(),
                ((Element) nic.getElementsByTagName("target").item(0)).getAttribute("dev"));
        assertEquals(0, nic.getElementsByTagName("driver").getLength(), "guest_offloads on: QEMU's defaults");
        Element balloon = (Element) domain.getElementsByTagName("memballoon").item(0);
        assertEquals("virtio", balloon.getAttribute("model"), "the guest's memory figures for stats()");
        assertEquals("10", ((Element) balloon.getElementsByTagName("stats").item(0)).getAttribute("period"));
        assertEquals(spec, SpecXml.read(xml).orElseThrow(), "metadata carries the spec, control characters too");
        assertEquals("agent-7", SpecXml.owner(xml), "metadata carries the owner");
    }

    @Test
    void offloadsOffTurnsOffEveryCsumAndSegmentationOffloadOnEveryInterface() {
        InstanceSpec spec = hostileSpec();
        spec = spec.withVifs(List.of(spec.vifs().getFirst(), VifSpec.of(UUID.randomUUID().toString(),
                "fa:16:3e:00:00:02")));
        var layout = new DomainXml.Layout(Path.of("/d"), null, null, null, null, null, Path.of("/c"), null);
        Element domain = Xml.parse(DomainXml.build(spec, "berth", KvmConfig.VirtType.QEMU,
                KvmConfig.GuestOffloads.OFF, layout, true)).getDocumentElement();
        var nics = domain.getElementsByTagName("interface");
        assertEquals(2, nics.getLength());
        for (int i = 0; i < nics.getLength(); i++) {
            assertOffloadsOff((Element) nics.item(i));
        }
        assertOffloadsOff(Xml.parse(DomainXml.interfaceXml(spec.vifs().getLast(), KvmConfig.GuestOffloads.OFF))
                .getDocumentElement()); // hot-plug
        assertEquals(0, Xml.parse(DomainXml.interfaceXml(spec.vifs().getLast(), KvmConfig.GuestOffloads.ON))
                .getDocumentElement().getElementsByTagName("driver").getLength());
    }

    static void assertOffloadsOff(Element nic) {
        Element driver = (Element) nic.getElementsByTagName("driver").item(0);
        assertEquals("qemu", driver.getAttribute("name"));
        Element host = (Element) driver.getElementsByTagName("host").item(0);
        Element guest = (Element) driver.getElementsByTagName("guest").item(0);
        for (String a : List.of("csum", "gso", "tso4", "tso6", "ecn", "ufo")) {
            assertEquals("off", host.getAttribute(a), "host " + a);
        }
        for (String a : List.of("csum", "tso4", "tso6", "ecn", "ufo")) {
            assertEquals("off", guest.getAttribute(a), "guest " + a);
        }
    }

    @Test
    void guestOffloadsAutoFollowsTheKernelDatapath() throws Exception {
        assertEquals(KvmConfig.GuestOffloads.OFF, KvmConfig.detectOffloads(tmp.resolve("openvswitch")));
        assertEquals(KvmConfig.GuestOffloads.ON, KvmConfig.detectOffloads(Files.createDirectory(
                tmp.resolve("openvswitch"))));
        assertEquals(KvmConfig.GuestOffloads.OFF, KvmConfig.from(new DriverConfig("kvm", Map.of("guest_offloads",
                "off"))).guestOffloads());
        assertEquals(KvmConfig.GuestOffloads.ON, KvmConfig.from(new DriverConfig("kvm", Map.of("guest_offloads",
                "ON"))).guestOffloads());
        assertEquals(KvmConfig.detectOffloads(Path.of("/sys/module/openvswitch")),
                KvmConfig.from(DriverConfig.empty("kvm")).guestOffloads());
        var e = assertThrows(DriverException.InvalidConfiguration.class, () -> KvmConfig.from(
                new DriverConfig("kvm", Map.of("guest_offloads", "partial"))));
        assertEquals("drivers.kvm.guest_offloads", e.option());
    }

    @Test
    void embedUriNeedsAnAbsoluteRoot() {
        assertEquals(Optional.of(Path.of("/var/lib/berth/h1 libvirt")),
                KvmConfig.embedRoot("qemu:///embed?root=/var/lib/berth/h1%20libvirt"));
        assertEquals(Optional.of(Path.of("/r")), KvmConfig.embedRoot("qemu:///embed?foo=1&root=/r/./"));
        assertEquals(Optional.empty(), KvmConfig.embedRoot("qemu:///system"));
        assertEquals(Optional.empty(), KvmConfig.embedRoot("qemu+unix:///system?socket=/run/x"));
        assertEquals(Optional.empty(), KvmConfig.from(DriverConfig.empty("kvm")).embedRoot());
        for (String bad : List.of("qemu:///embed", "qemu:///embed?root=", "qemu:///embed?root=relative/dir",
                "qemu+ssh://host/embed?root=/r", "qemu://host/embed?root=/r",
                "qemu:///embed?root=/" + "d".repeat(KvmConfig.MAX_EMBED_ROOT))) {
            var e = assertThrows(DriverException.InvalidConfiguration.class, () -> KvmConfig.from(
                    new DriverConfig("kvm", Map.of("uri", bad))), bad);
            assertEquals("drivers.kvm.uri", e.option());
            assertTrue(e.getMessage().contains("qemu:///embed?root="), e.getMessage());
        }
    }

    @Test
    void noPluggerMeansNoNic() {
        InstanceSpec spec = hostileSpec();
        var layout = new DomainXml.Layout(Path.of("/d"), null, null, null, null, null, Path.of("/c"), null);
        Element domain = Xml.parse(DomainXml.build(spec, "berth", KvmConfig.VirtType.QEMU,
                KvmConfig.GuestOffloads.OFF, layout, false))
                .getDocumentElement();
        assertEquals(0, domain.getElementsByTagName("interface").getLength());
        assertEquals(1, domain.getElementsByTagName("boot").getLength());
    }

    @Test
    void stateMapping() {
        assertEquals(PowerState.RUNNING, PowerStates.map(DomainState.VIR_DOMAIN_RUNNING, false));
        assertEquals(PowerState.RUNNING, PowerStates.map(DomainState.VIR_DOMAIN_BLOCKED, false));
        assertEquals(PowerState.PAUSED, PowerStates.map(DomainState.VIR_DOMAIN_PAUSED, false));
        assertEquals(PowerState.SHUTDOWN, PowerStates.map(DomainState.VIR_DOMAIN_SHUTOFF, false));
        assertEquals(PowerState.SUSPENDED, PowerStates.map(DomainState.VIR_DOMAIN_SHUTOFF, true));
        assertEquals(PowerState.SHUTDOWN, PowerStates.map(DomainState.VIR_DOMAIN_SHUTDOWN, false));
        assertEquals(PowerState.CRASHED, PowerStates.map(DomainState.VIR_DOMAIN_CRASHED, false));
        assertEquals(PowerState.SUSPENDED, PowerStates.map(null, false));
    }

    @Test
    void eventMapping() {
        assertEquals(Transition.STARTED, LifecycleEvents.transition(new DomainEvent(DomainEventType.STARTED, 0))
                .orElseThrow());
        assertEquals(Transition.SUSPENDED, LifecycleEvents.transition(new DomainEvent(DomainEventType.STOPPED, 4))
                .orElseThrow());
        assertEquals(Transition.STOPPED, LifecycleEvents.transition(new DomainEvent(DomainEventType.STOPPED, 0))
                .orElseThrow());
        assertEquals(Transition.PAUSED, LifecycleEvents.transition(new DomainEvent(DomainEventType.SUSPENDED, 0))
                .orElseThrow());
        assertTrue(LifecycleEvents.transition(new DomainEvent(DomainEventType.DEFINED, 0)).isEmpty());
    }

    @Test
    void theResumeOfABootIsNotPublished() {
        var events = new LifecycleEvents(EventSink.DISCARD);
        UUID uuid = UUID.randomUUID();
        assertTrue(events.published(uuid, new DomainEvent(DomainEventType.DEFINED, 0)).isEmpty());
        assertTrue(events.published(uuid, new DomainEvent(DomainEventType.RESUMED, 0)).isEmpty(), "boot's resume");
        assertEquals(Transition.STARTED, events.published(uuid, new DomainEvent(DomainEventType.STARTED, 0)).orElseThrow());
        assertEquals(Transition.PAUSED, events.published(uuid, new DomainEvent(DomainEventType.SUSPENDED, 0)).orElseThrow());
        assertEquals(Transition.RESUMED, events.published(uuid, new DomainEvent(DomainEventType.RESUMED, 0)).orElseThrow());
        assertTrue(events.published(uuid, new DomainEvent(DomainEventType.UNDEFINED, 0)).isEmpty());
        UUID pausedBeforeUs = UUID.randomUUID();
        assertEquals(Transition.RESUMED, events.published(pausedBeforeUs, new DomainEvent(DomainEventType.RESUMED, 0))
                .orElseThrow(), "a domain paused before the driver started is unpaused");
    }

    @Test
    void consoleTailIsBounded() throws Exception {
        Path log = tmp.resolve("console.log");
        Files.write(log, "0123456789".getBytes());
        assertArrayEquals("789".getBytes(), ConsoleTail.read(log, 3));
        assertArrayEquals("0123456789".getBytes(), ConsoleTail.read(log, 1024));
        assertEquals(0, ConsoleTail.read(tmp.resolve("none"), 10).length);
        assertThrows(IllegalArgumentException.class, () -> ConsoleTail.read(log, 0));
        assertThrows(IllegalArgumentException.class, () -> ConsoleTail.read(log, 1024 * 1024 + 1));
    }
}
