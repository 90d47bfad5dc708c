package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.berth.lab.Cmd;
import org.berth.lab.TestImages;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * stats() against the host's libvirtd + QEMU (TCG) with the busybox test guest: a busy guest's CPU time, the
 * balloon's memory figures, a VIF's counters against its tap (traffic from a namespace this test makes, bridged to
 * the tap with a Linux bridge that has no address), the root disk's size and I/O, {@code virsh domstats} of the same
 * domain, shut-off, destroyed and other owners' domains, and one libvirt call for ten domains.
 */
class KvmStatsTest {
    private static final String OWNER = "berth-stats-test";
    private static final Flavor FLAVOR = new Flavor("t.small", 1, 256, 1, 0, 0);
    private static final Duration CMD = Duration.ofSeconds(30);
    /** An Ethernet frame of {@code ping -s 1000}: 1000 + ICMP 8 + IPv4 20 + Ethernet 14 bytes. */
    private static final long PING_FRAME = 1042;

    private static Path stateDir;
    private static ManifestImageStore store;
    private static TapPlugger taps;
    private static KvmDriver driver;
    private final List<UUID> spawned = new ArrayList<>();
    private final List<VifSpec> vifs = new ArrayList<>();
    private final List<ComputeDriver> others = new ArrayList<>();
    private String netns;
    private String bridge;
    private String veth;

    @BeforeAll
    static void open() throws IOException {
        Files.createDirectories(Path.of("/var/lib/berth"));
        stateDir = Files.createDirectories(Path.of("/var/lib/berth/kvm-stats-test-" + UUID.randomUUID()));
        Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        store = new ManifestImageStore(TestImages.dir(), stateDir.resolve("_store"));
        taps = new TapPlugger();
        driver = (KvmDriver) open(OWNER);
    }

    private static ComputeDriver open(String owner) {
        return new KvmDriverProvider().create(new DriverContext(new DriverConfig("kvm", Map.of()), store,
                Optional.of(taps), e -> { }, stateDir, owner));
    }

    @AfterAll
    static void close() throws IOException {
        driver.close();
        InstanceFiles.deleteTree(stateDir);
        assertFalse(Files.exists(stateDir));
    }

    @AfterEach
    void noLeaks() throws Exception {
        SystemDomains.destroyAndAssertGone(driver, stateDir, spawned);
        others.forEach(ComputeDriver::close);
        taps.assertNoneLeft(vifs);
        if (netns != null) {
            ip("netns", "del", netns); // takes the veth pair with it
            ip("link", "del", bridge);
            assertFalse(Cmd.run(CMD, List.of("ip", "netns", "list")).orThrow().contains(netns), "netns left");
            assertFalse(TapPlugger.exists(bridge), "bridge left: " + bridge);
            assertFalse(TapPlugger.exists(veth), "veth left: " + veth);
        }
    }

    private static String ip(String... args) {
        List<String> argv = new ArrayList<>(List.of("ip"));
        argv.addAll(List.of(args));
        return Cmd.run(CMD, argv).orThrow();
    }

    private InstanceSpec spec(String name, boolean busy, boolean powerOn, VifSpec... nics) {
        UUID uuid = UUID.randomUUID();
        spawned.add(uuid);
        Map<String, String> meta = busy ? Map.of("busy", "1") : Map.of();
        GuestConfig guest = new GuestConfig(name, meta, Map.of(), Optional.empty(), Optional.empty(), Optional.empty(),
                GuestConfig.DEFAULT_ZONE);
        return new InstanceSpec(uuid, name, FLAVOR, store.byName(TestImages.GUEST_KERNEL).id(), List.of(nics),
                Map.of(), powerOn, guest);
    }

    private VifSpec vif(String mac, String cidr) {
        VifSpec v = new VifSpec(UUID.randomUUID().toString(), mac, "br-int", 1500, Optional.empty(),
                List.of(IpAddress.parseCidr(cidr, "ip")), Optional.empty());
        vifs.add(v);
        return v;
    }

    /**
     * A namespace with {@code address} on one end of a veth pair whose other end is on a Linux bridge (no address on
     * the host side), so that traffic between the namespace and a tap put on the bridge stays between the two.
     */
    private void peerNamespace(String address) {
        String tag = Long.toHexString(System.nanoTime() & 0xffffffL);
        netns = "kstats-" + tag;
        bridge = "kstbr" + tag;
        veth = "kstv" + tag;
        ip("netns", "add", netns);
        ip("link", "add", bridge, "type", "bridge");
        ip("link", "set", bridge, "up");
        ip("link", "add", veth, "type", "veth", "peer", "name", veth + "p");
        ip("link", "set", veth + "p", "netns", netns);
        ip("link", "set", veth, "master", bridge, "up");
        ip("-n", netns, "link", "set", veth + "p", "up");
        ip("-n", netns, "addr", "add", address, "dev", veth + "p");
    }

    private Optional<InstanceStats> stats(UUID uuid) {
        return driver.stats().stream().filter(s -> s.uuid().equals(uuid)).findFirst();
    }

    private InstanceStats statsOf(UUID uuid) {
        return stats(uuid).orElseThrow(() -> new AssertionError("no stats for " + uuid));
    }

    private String awaitConsole(UUID uuid, String marker) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline) {
            String log = new String(driver.consoleLog(uuid, 256 * 1024), StandardCharsets.UTF_8);
            if (log.contains(marker)) {
                return log;
            }
            Thread.sleep(200);
        }
        throw new AssertionError(marker + " not on the console of " + uuid + " within 120 s");
    }

    /** A sample of the tap's host-side counters (/sys/class/net/TAP/statistics): the host's view. */
    private static Map<String, Long> tapCounters(String tap) throws IOException {
        Map<String, Long> c = new HashMap<>();
        for (String f : List.of("rx_bytes", "rx_packets", "tx_bytes", "tx_packets")) {
            c.put(f, Long.parseLong(Files.readString(Path.of("/sys/class/net", tap, "statistics", f)).strip()));
        }
        return c;
    }

    /** {@code virsh domstats --raw} of one domain, through Commons Exec: field to value. */
    private static Map<String, String> virshDomstats(UUID uuid) {
        String out = Cmd.run(CMD, List.of("virsh", "-c", "qemu:///system", "domstats", "--raw",
                InstanceSpec.backendName(uuid))).orThrow();
        Map<String, String> fields = new HashMap<>();
        Matcher m = Pattern.compile("^\\s+([\\w.-]+)=(.*)$", Pattern.MULTILINE).matcher(out);
        while (m.find()) {
            fields.put(m.group(1), m.group(2).strip());
        }
        return fields;
    }

    private static void assertBetween(long low, long value, long high, String what) {
        assertTrue(low <= value && value <= high, what + ": " + value + " not within [" + low + ", " + high + "]");
    }

    /** Every counter of {@code later} is at least the same counter of {@code earlier}. */
    private static void assertNotBackwards(InstanceStats earlier, InstanceStats later) {
        assertTrue(later.cpuTimeNs() >= earlier.cpuTimeNs(), "cpu time went backwards");
        for (int i = 0; i < Math.min(earlier.vcpuTimesNs().size(), later.vcpuTimesNs().size()); i++) {
            assertTrue(later.vcpuTimesNs().get(i) >= earlier.vcpuTimesNs().get(i), "vcpu " + i + " went backwards");
        }
        for (InstanceStats.VifStats a : earlier.vifs()) {
            InstanceStats.VifStats b = later.vifs().stream().filter(v -> v.portId().equals(a.portId())).findFirst()
                    .orElseThrow(() -> new AssertionError("VIF " + a.portId() + " vanished"));
            assertTrue(b.rxBytes() >= a.rxBytes() && b.rxPackets() >= a.rxPackets() && b.txBytes() >= a.txBytes()
                    && b.txPackets() >= a.txPackets(), "VIF counters went backwards: " + a + " then " + b);
        }
        for (InstanceStats.DiskStats a : earlier.disks()) {
            later.disks().stream().filter(d -> d.device().equals(a.device())).findFirst().ifPresent(b ->
                    assertTrue(b.readBytes() >= a.readBytes() && b.readRequests() >= a.readRequests()
                            && b.writeBytes() >= a.writeBytes() && b.writeRequests() >= a.writeRequests(),
                            "disk counters went backwards: " + a + " then " + b));
        }
    }

    /** The bytes a file takes on the host: st_blocks x 512 ({@code stat}'s %b in %B units), what {@code du} says. */
    private static long allocated(Path file) {
        String[] out = Cmd.run(CMD, List.of("stat", "-c", "%b %B", file.toString())).orThrow().strip().split(" ");
        return Long.parseLong(out[0]) * Long.parseLong(out[1]);
    }

    private Path overlay(UUID uuid) {
        return stateDir.resolve(uuid.toString()).resolve("disk");
    }

    private static InstanceStats.DiskStats vda(InstanceStats s) {
        return s.disks().stream().filter(d -> d.device().equals("vda")).findFirst()
                .orElseThrow(() -> new AssertionError("no vda in " + s.disks()));
    }

    private static long sumOf(List<Long> values) {
        return values.stream().mapToLong(Long::longValue).sum();
    }

    @Test
    void aBusyGuestsCountersGrowAndMatchLibvirtAndTheTap() throws Exception {
        VifSpec nic = vif("fa:16:3e:18:00:02", "198.18.91.2/24");
        peerNamespace("198.18.91.1/24");
        InstanceSpec busy = spec("busy", true, true, nic);
        InstanceSpec idle = spec("idle", false, true);
        driver.spawn(busy);
        driver.spawn(idle);
        ip("link", "set", nic.devName(), "master", bridge);
        awaitConsole(busy.uuid(), "BERTH-BUSY on");
        assertFalse(awaitConsole(idle.uuid(), "BERTH-GUEST-READY").contains("BERTH-BUSY"), "idle guest is busy");

        // CPU: five samples a second apart; nothing goes backwards; the busy guest spins one vCPU. The host's two
        // cores are shared with other builds: a window where the spinning vCPU got less than half a core is
        // measured again (three windows at most).
        List<InstanceStats> busySamples = new ArrayList<>();
        List<InstanceStats> idleSamples = new ArrayList<>();
        double busyRate = 0;
        double idleRate = 0;
        for (int window = 0; window < 3 && busyRate <= 0.5; window++) {
            busySamples.clear();
            idleSamples.clear();
            long t0 = System.nanoTime();
            for (int i = 0; i < 5; i++) {
                if (i > 0) {
                    Thread.sleep(1000);
                }
                List<InstanceStats> all = driver.stats();
                busySamples.add(all.stream().filter(s -> s.uuid().equals(busy.uuid())).findFirst().orElseThrow());
                idleSamples.add(all.stream().filter(s -> s.uuid().equals(idle.uuid())).findFirst().orElseThrow());
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            for (int i = 1; i < 5; i++) {
                assertNotBackwards(busySamples.get(i - 1), busySamples.get(i));
                assertNotBackwards(idleSamples.get(i - 1), idleSamples.get(i));
            }
            busyRate = (busySamples.getLast().cpuTimeNs() - busySamples.getFirst().cpuTimeNs()) / 1e9 / seconds;
            idleRate = (idleSamples.getLast().cpuTimeNs() - idleSamples.getFirst().cpuTimeNs()) / 1e9 / seconds;
            System.out.printf("stats: busy guest %.2f CPU-s/s, idle guest %.2f CPU-s/s over %.1f s%n", busyRate,
                    idleRate, seconds);
        }
        assertTrue(busyRate > 0.5, "busy guest's cpu rate " + busyRate);
        assertTrue(idleRate < busyRate / 3, "idle guest's cpu rate " + idleRate + " vs busy " + busyRate);

        InstanceStats b = busySamples.getLast();
        assertEquals(PowerState.RUNNING, b.state());
        assertEquals(1, b.vcpus());
        assertEquals(1, b.vcpuTimesNs().size());
        // vCPU threads' time is part of the domain's (every QEMU thread's); the spinning vCPU is nearly all of it
        long vcpuSum = sumOf(b.vcpuTimesNs());
        assertTrue(vcpuSum <= b.cpuTimeNs() * 1.02 && vcpuSum >= b.cpuTimeNs() * 0.7,
                "vcpu times " + b.vcpuTimesNs() + " vs cpu time " + b.cpuTimeNs());

        // disks: the root overlay (its virtual size is the flavor's root_gb) and the config drive
        InstanceStats.DiskStats vda = b.disks().stream().filter(d -> d.device().equals("vda")).findFirst()
                .orElseThrow(() -> new AssertionError("no vda in " + b.disks()));
        long virtualSize = new ObjectMapper().readTree(Cmd.run(CMD, List.of("qemu-img", "info", "-U",
                "--output=json", stateDir.resolve(busy.uuid().toString()).resolve("disk").toString())).orThrow())
                .path("virtual-size").asLong();
        assertEquals(FLAVOR.rootGb() * (1L << 30), virtualSize);
        assertEquals(virtualSize, vda.capacityBytes());
        assertTrue(vda.allocationBytes() > 0, "allocation of " + vda);
        assertTrue(vda.readBytes() > 0 && vda.readRequests() > 0, "the kernel read the partition table: " + vda);
        assertTrue(b.disks().stream().anyMatch(d -> d.device().equals("hdd") && d.readBytes() > 0),
                "the config drive was read: " + b.disks());

        // memory: QEMU's RSS at once, the guest's own figures once virtio_balloon reported (stats period 10 s)
        InstanceStats withBalloon = b;
        long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
        while (!InstanceStats.known(withBalloon.memory().usedBytes()) && System.nanoTime() < deadline) {
            Thread.sleep(500);
            withBalloon = statsOf(busy.uuid());
        }
        InstanceStats.Memory mem = withBalloon.memory();
        assertEquals(FLAVOR.memoryMb() * (1L << 20), mem.limitBytes());
        assertTrue(mem.usedBytes() > 0 && mem.usedBytes() < mem.limitBytes(), "used " + mem);
        assertTrue(mem.residentBytes() > 0, "resident " + mem);
        System.out.printf("stats: busy guest vcpu/cpu %.3f, memory used %d MiB resident %d MiB limit %d MiB, "
                + "vda %s%n", (double) vcpuSum / b.cpuTimeNs(), mem.usedBytes() >> 20, mem.residentBytes() >> 20,
                mem.limitBytes() >> 20, vda);

        // network: a bounded ping from the namespace; the VIF is the guest's view, the tap's statistics the host's
        InstanceStats.VifStats before = statsOf(busy.uuid()).vifs().getFirst();
        assertEquals(nic.portId(), before.portId());
        assertEquals(nic.devName(), before.device());
        String ping = Cmd.run(Duration.ofSeconds(60), List.of("ip", "netns", "exec", netns, "ping", "-c", "20",
                "-i", "0.2", "-s", "1000", "-W", "2", "198.18.91.2")).stdout();
        Matcher counts = Pattern.compile("(\\d+) packets transmitted, (\\d+) received").matcher(ping);
        assertTrue(counts.find(), ping);
        long sent = Long.parseLong(counts.group(1));
        long replies = Long.parseLong(counts.group(2));
        assertTrue(replies >= 15, "the guest answered " + replies + " of " + sent + ":\n" + ping);
        long allocatedBefore = allocated(overlay(busy.uuid()));
        InstanceStats s1 = statsOf(busy.uuid());
        Map<String, Long> tap = tapCounters(nic.devName());
        Map<String, String> virsh = virshDomstats(busy.uuid());
        InstanceStats s2 = statsOf(busy.uuid());
        long allocatedAfter = allocated(overlay(busy.uuid()));
        InstanceStats.VifStats v1 = s1.vifs().getFirst();
        InstanceStats.VifStats v2 = s2.vifs().getFirst();
        // what the guest received is what the tap sent; a little ARP or IPv6 may ride along
        assertBetween(sent * PING_FRAME, v1.rxBytes() - before.rxBytes(), sent * PING_FRAME + 2000, "rx growth");
        assertBetween(replies * PING_FRAME, v1.txBytes() - before.txBytes(), replies * PING_FRAME + 2000,
                "tx growth");
        assertBetween(v1.rxBytes(), tap.get("tx_bytes"), v2.rxBytes(), "rx bytes vs the tap's tx_bytes");
        assertBetween(v1.rxPackets(), tap.get("tx_packets"), v2.rxPackets(), "rx packets vs the tap's tx_packets");
        assertBetween(v1.txBytes(), tap.get("rx_bytes"), v2.txBytes(), "tx bytes vs the tap's rx_bytes");
        assertBetween(v1.txPackets(), tap.get("rx_packets"), v2.txPackets(), "tx packets vs the tap's rx_packets");
        System.out.printf("stats: %d pings sent, %d answered; VIF rx +%d B tx +%d B; tap %s%n", sent, replies,
                v1.rxBytes() - before.rxBytes(), v1.txBytes() - before.txBytes(), tap);

        // virsh domstats of the same domain, read between the two samples
        assertBetween(s1.cpuTimeNs(), Long.parseLong(virsh.get("cpu.time")), s2.cpuTimeNs(), "virsh cpu.time");
        assertBetween(s1.vcpuTimesNs().getFirst(), Long.parseLong(virsh.get("vcpu.0.time")),
                s2.vcpuTimesNs().getFirst(), "virsh vcpu.0.time");
        assertEquals(String.valueOf(s1.vcpus()), virsh.get("vcpu.current"));
        assertEquals(nic.devName(), virsh.get("net.0.name"));
        assertBetween(v1.rxBytes(), Long.parseLong(virsh.get("net.0.rx.bytes")), v2.rxBytes(), "virsh rx.bytes");
        assertBetween(v1.txBytes(), Long.parseLong(virsh.get("net.0.tx.bytes")), v2.txBytes(), "virsh tx.bytes");
        assertEquals(s1.memory().limitBytes(), Long.parseLong(virsh.get("balloon.current")) * 1024);
        assertNotNull(virsh.get("balloon.rss"), "virsh reports the RSS");
        int vdaIndex = -1;
        for (int i = 0; virsh.containsKey("block." + i + ".name"); i++) {
            vdaIndex = virsh.get("block." + i + ".name").equals("vda") ? i : vdaIndex;
        }
        assertTrue(vdaIndex >= 0, "virsh has no vda: " + virsh);
        InstanceStats.DiskStats d1 = s1.disks().stream().filter(d -> d.device().equals("vda")).findFirst().orElseThrow();
        InstanceStats.DiskStats d2 = s2.disks().stream().filter(d -> d.device().equals("vda")).findFirst().orElseThrow();
        assertBetween(d1.readBytes(), Long.parseLong(virsh.get("block." + vdaIndex + ".rd.bytes")), d2.readBytes(),
                "virsh vda rd.bytes");
        assertEquals(d1.capacityBytes(), Long.parseLong(virsh.get("block." + vdaIndex + ".capacity")));
        // allocation is what the overlay file takes on the host (QEMU's actual-size, libvirt's block.N.physical of a
        // running domain), not its st_size nor QEMU's highest written offset
        assertBetween(allocatedBefore, d1.allocationBytes(), allocatedAfter, "vda allocation vs the overlay's st_blocks");
        assertEquals(Long.parseLong(virsh.get("block." + vdaIndex + ".physical")), d1.allocationBytes());
        // used memory is MemTotal - MemAvailable; the guest (Linux 6.1) reports MemAvailable as balloon.usable
        assertTrue(virsh.containsKey("balloon.usable"), "the guest reports MemAvailable: " + virsh);
        long virshUsed = (Long.parseLong(virsh.get("balloon.available")) - Long.parseLong(virsh.get("balloon.usable")))
                * 1024;
        assertTrue(virshUsed == s1.memory().usedBytes() || virshUsed == s2.memory().usedBytes(),
                "used " + s1.memory().usedBytes() + "/" + s2.memory().usedBytes() + " vs virsh's available - usable "
                        + virshUsed);
        assertTrue(virshUsed < (Long.parseLong(virsh.get("balloon.available"))
                - Long.parseLong(virsh.get("balloon.unused"))) * 1024, "page cache is not counted as used");
        assertNotBackwards(busySamples.getLast(), s1);
        assertNotBackwards(s1, s2);

        // the power state as info() says it: paused, and suspended (a managed save: shut off with reason SAVED)
        driver.pause(busy.uuid());
        InstanceStats paused = statsOf(busy.uuid());
        assertEquals(PowerState.PAUSED, paused.state());
        assertNotBackwards(s2, paused);

        // the reset points README's stats section states: power off ends the QEMU process, so cpu and disk
        // counters read 0 and start again from 0 with the next one; the tap is the plugger's and outlives QEMU, so
        // the VIF's counters carry on after being absent while shut off
        driver.powerOff(busy.uuid(), Duration.ZERO);
        InstanceStats off = statsOf(busy.uuid());
        assertEquals(PowerState.SHUTDOWN, off.state());
        assertEquals(0, off.cpuTimeNs());
        assertTrue(off.vifs().isEmpty(), "a shut-off domain's VIF: " + off.vifs());
        assertEquals(0, vda(off).readBytes());
        assertEquals(allocated(overlay(busy.uuid())), vda(off).allocationBytes(),
                "shut off, libvirt stat()s the file itself: block.N.allocation is st_blocks x 512");
        driver.powerOn(busy.uuid());
        InstanceStats on = statsOf(busy.uuid());
        assertTrue(on.cpuTimeNs() < paused.cpuTimeNs(), "cpu time restarts with QEMU: " + on.cpuTimeNs() + " vs "
                + paused.cpuTimeNs());
        assertTrue(vda(on).readBytes() < vda(paused).readBytes(), "disk counters restart with QEMU: " + vda(on));
        InstanceStats.VifStats vifOn = on.vifs().getFirst();
        InstanceStats.VifStats vifPaused = paused.vifs().getFirst();
        assertTrue(vifOn.rxBytes() >= vifPaused.rxBytes() && vifOn.txBytes() >= vifPaused.txBytes(),
                "the tap's counters survive the power cycle: " + vifPaused + " then " + vifOn);
        System.out.printf("stats: across a power cycle cpu %d -> %d ns, vda rd %d -> %d B, VIF rx %d -> %d B%n",
                paused.cpuTimeNs(), on.cpuTimeNs(), vda(paused).readBytes(), vda(on).readBytes(), vifPaused.rxBytes(),
                vifOn.rxBytes());
        driver.suspend(idle.uuid());
        assertEquals(PowerState.SUSPENDED, driver.info(idle.uuid()).powerState());
        InstanceStats suspended = statsOf(idle.uuid());
        assertEquals(PowerState.SUSPENDED, suspended.state());
        assertEquals(0, suspended.cpuTimeNs(), "no QEMU runs a suspended instance");

        // a destroyed instance is absent, not an error
        driver.destroy(idle.uuid());
        assertTrue(stats(idle.uuid()).isEmpty(), "destroyed instance still sampled");
        assertTrue(stats(busy.uuid()).isPresent());
    }

    @Test
    void tenDomainsAreOneLibvirtCallAndOnlyThisOwnersAreListed() throws Exception {
        List<InstanceSpec> ten = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            InstanceSpec s = spec("off-" + i, false, false);
            driver.spawn(s); // powerOn false: defined, shut off
            ten.add(s);
        }
        ComputeDriver other = open(OWNER + "-other");
        others.add(other);
        InstanceSpec theirs = spec("theirs", false, false);
        other.spawn(theirs);

        List<InstanceStats> warm = driver.stats(); // reads each new domain's definition once
        for (InstanceSpec s : ten) {
            InstanceStats st = warm.stream().filter(x -> x.uuid().equals(s.uuid())).findFirst()
                    .orElseThrow(() -> new AssertionError("no stats for " + s.uuid()));
            assertEquals(PowerState.SHUTDOWN, st.state());
            assertEquals(0, st.cpuTimeNs());
            assertTrue(st.vifs().isEmpty());
            assertEquals(FLAVOR.vcpus(), st.vcpus());
            assertTrue(st.disks().stream().anyMatch(d -> d.device().equals("vda")
                    && d.capacityBytes() == FLAVOR.rootGb() * (1L << 30) && d.readBytes() == 0), st.disks().toString());
        }
        assertTrue(warm.stream().noneMatch(x -> x.uuid().equals(theirs.uuid())), "another owner's instance listed");
        assertTrue(other.stats().stream().anyMatch(x -> x.uuid().equals(theirs.uuid())), "its owner sees it");

        // a warm sample is one session call, one virConnectGetAllDomainStats and no definition read; a domain
        // someone else defines meanwhile (another test on this host) is read once, so try up to three times
        boolean one = false;
        for (int attempt = 0; attempt < 3 && !one; attempt++) {
            long calls = driver.libvirtCalls();
            long bulk = BulkStats.calls();
            long lookups = driver.statsLookups();
            List<InstanceStats> sample = driver.stats();
            assertEquals(1, driver.libvirtCalls() - calls, "session calls of one stats()");
            assertEquals(1, BulkStats.calls() - bulk, "virConnectGetAllDomainStats calls of one stats()");
            assertTrue(ten.stream().allMatch(s -> sample.stream().anyMatch(x -> x.uuid().equals(s.uuid()))));
            one = driver.statsLookups() == lookups;
        }
        assertTrue(one, "every warm sample read a domain definition");

        UUID gone = ten.getFirst().uuid();
        driver.destroy(gone);
        assertTrue(stats(gone).isEmpty(), "a destroyed instance is absent");
        assertTrue(stats(UUID.randomUUID()).isEmpty());
        other.destroy(theirs.uuid());
    }
}
