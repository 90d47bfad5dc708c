package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Memory;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;

/** Without libvirt: the virTypedParameter layout read from native memory, and libvirt's figures mapped. */
class DomainStatsTest {
    private static final VifSpec VIF = new VifSpec("0f2b5c0e-1111-4222-8333-944445555666", "fa:16:3e:00:00:01",
            "br-int", 1450, Optional.empty(), List.of(IpAddress.parseCidr("198.18.0.2/24", "ip")), Optional.empty());
    private static final VifSpec UNPLUGGED = new VifSpec("7a2b5c0e-1111-4222-8333-944445555666",
            "fa:16:3e:00:00:02", "br-int", 1450, Optional.empty(), List.of(), Optional.empty());
    private static final UUID UUID_1 = UUID.fromString("6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f");
    private static final InstanceSpec SPEC = new InstanceSpec(UUID_1, "vm", new Flavor("f", 2, 256, 1, 0, 0),
            UUID.randomUUID().toString(),
            List.of(VIF, UNPLUGGED), Map.of(), true);

    /** Writes one virTypedParameter as libvirt lays it out (x86-64): field[80], int type, 8-byte union at 88. */
    private static void put(Memory m, int index, String field, int type, long bits) {
        long at = (long) index * TypedParams.SIZE;
        byte[] name = field.getBytes(StandardCharsets.UTF_8);
        m.write(at, name, 0, name.length);
        m.setByte(at + name.length, (byte) 0);
        m.setInt(at + TypedParams.TYPE_OFFSET, type);
        m.setLong(at + TypedParams.VALUE_OFFSET, bits);
    }

    @Test
    void typedParametersAreReadFromTheirNativeLayout() {
        assertEquals(96, TypedParams.SIZE);
        Memory m = new Memory(8L * TypedParams.SIZE);
        m.clear();
        Memory text = new Memory(16);
        text.setString(0, "tapabc", StandardCharsets.UTF_8.name());
        put(m, 0, "state.state", TypedParams.INT, 1);
        put(m, 1, "cpu.time", TypedParams.ULLONG, 19_522_993_000L);
        put(m, 2, "vcpu.current", TypedParams.UINT, 0xFFFF_FFFFL); // unsigned: not -1
        put(m, 3, "net.0.name", TypedParams.STRING, 0);
        m.setPointer(3L * TypedParams.SIZE + TypedParams.VALUE_OFFSET, text);
        put(m, 4, "balloon.rss", TypedParams.LLONG, 234_848);
        put(m, 5, "x.ratio", TypedParams.DOUBLE, Double.doubleToRawLongBits(0.5));
        put(m, 6, "x.flag", TypedParams.BOOLEAN, 1);
        put(m, 7, "x.future", 42, 7); // a type this code does not know: skipped

        TypedParams p = TypedParams.read(m, 8);

        assertEquals(1, p.number("state.state"));
        assertEquals(19_522_993_000L, p.number("cpu.time"));
        assertEquals(0xFFFF_FFFFL, p.number("vcpu.current"));
        assertEquals(Optional.of("tapabc"), p.string("net.0.name"));
        assertEquals(234_848, p.number("balloon.rss"));
        assertEquals(0.5, p.values().get("x.ratio"));
        assertEquals(true, p.values().get("x.flag"));
        assertFalse(p.has("x.future"));
        assertEquals(InstanceStats.UNKNOWN, p.number("absent"));
        assertEquals(InstanceStats.UNKNOWN, p.number("net.0.name"), "a string is no number");
        assertEquals(7, p.values().size());
    }

    private static Map<String, Object> running() {
        Map<String, Object> v = new HashMap<>();
        v.put("state.state", 1L);
        v.put("state.reason", 1L);
        v.put("cpu.time", 20_000_000_000L);
        v.put("vcpu.current", 2L);
        v.put("vcpu.maximum", 2L);
        v.put("vcpu.0.time", 9_000_000_000L);
        v.put("vcpu.1.time", 10_000_000_000L);
        v.put("balloon.current", 262_144L);
        v.put("balloon.available", 223_748L); // MemTotal
        v.put("balloon.unused", 150_152L); // MemFree
        v.put("balloon.usable", 190_152L); // MemAvailable: MemFree plus what the guest can drop (page cache)
        v.put("balloon.rss", 234_848L);
        v.put("net.count", 2L);
        v.put("net.0.name", "vnet7"); // not one of the spec's: ignored
        v.put("net.1.name", VIF.devName());
        v.put("net.1.rx.bytes", 9030L);
        v.put("net.1.rx.pkts", 39L);
        v.put("net.1.rx.drop", 1L);
        v.put("net.1.rx.errs", 0L);
        v.put("net.1.tx.bytes", 726L);
        v.put("net.1.tx.pkts", 9L);
        v.put("net.1.tx.drop", 0L);
        v.put("net.1.tx.errs", 2L);
        v.put("block.count", 2L);
        v.put("block.0.name", "vda");
        v.put("block.0.rd.bytes", 754_176L);
        v.put("block.0.rd.reqs", 17L);
        v.put("block.0.wr.bytes", 4096L);
        v.put("block.0.wr.reqs", 1L);
        v.put("block.0.capacity", 1L << 30);
        v.put("block.0.allocation", 0L); // QEMU's highest written offset: nothing written through this QEMU yet
        v.put("block.0.physical", 204_800L); // QEMU's actual-size of the image: st_blocks x 512
        v.put("block.1.name", "hdd");
        return v;
    }

    @Test
    void aRunningDomainsFiguresMapToTheInstancesView() {
        InstanceStats s = DomainStats.of(UUID_1, SPEC, new TypedParams(running()));

        assertEquals(PowerState.RUNNING, s.state());
        assertEquals(20_000_000_000L, s.cpuTimeNs());
        assertEquals(2, s.vcpus());
        assertEquals(List.of(9_000_000_000L, 10_000_000_000L), s.vcpuTimesNs());
        assertEquals(new InstanceStats.Memory((223_748L - 190_152L) * 1024, 234_848L * 1024, 262_144L * 1024),
                s.memory(), "used is MemTotal - MemAvailable: page cache the guest can drop is not in use");
        assertEquals(List.of(new InstanceStats.VifStats(VIF.portId(), VIF.devName(), 9030, 39, 1, 0, 726, 9, 0, 2)),
                s.vifs(), "libvirt's net figures are already the guest's view; the unplugged VIF is absent");
        // hdd has no I/O counters in this sample (NOWAIT): left out rather than reported as zero
        assertEquals(List.of(new InstanceStats.DiskStats("vda", 754_176, 17, 4096, 1, 1L << 30, 204_800)), s.disks());
    }

    @Test
    void whatTheGuestDoesNotReportIsUnknown() {
        Map<String, Object> v = running();
        v.remove("balloon.usable"); // a guest before Linux 4.6: MemTotal - MemFree, as Ceilometer falls back
        assertEquals((223_748L - 150_152L) * 1024, DomainStats.of(UUID_1, SPEC, new TypedParams(v)).memory()
                .usedBytes());
        v.remove("balloon.available"); // no virtio_balloon in the guest: QEMU's RSS and the size only
        v.remove("net.1.rx.drop");
        InstanceStats s = DomainStats.of(UUID_1, SPEC, new TypedParams(v));
        assertEquals(new InstanceStats.Memory(InstanceStats.UNKNOWN, 234_848L * 1024, 262_144L * 1024), s.memory());
        assertEquals(InstanceStats.UNKNOWN, s.vifs().getFirst().rxDrops());
    }

    @Test
    void aShutOffDomainHasNoTrafficAndItsDisksSizes() {
        Map<String, Object> v = new HashMap<>();
        v.put("state.state", 5L);
        v.put("state.reason", 1L);
        v.put("balloon.current", 262_144L);
        v.put("vcpu.current", 2L);
        v.put("cpu.time", 330_000_000L); // what libvirt 9 says of a domain it never started
        v.put("block.count", 1L);
        v.put("block.0.name", "vda");
        v.put("block.0.capacity", 1L << 30);
        v.put("block.0.allocation", 204_800L); // libvirt stat()ed the file: st_blocks x 512
        v.put("block.0.physical", 3_473_408L); // st_size: holes and preallocated metadata count
        InstanceStats s = DomainStats.of(UUID_1, SPEC, new TypedParams(v));
        assertEquals(PowerState.SHUTDOWN, s.state());
        assertEquals(0, s.cpuTimeNs());
        assertTrue(s.vcpuTimesNs().isEmpty());
        assertTrue(s.vifs().isEmpty());
        assertEquals(new InstanceStats.Memory(InstanceStats.UNKNOWN, InstanceStats.UNKNOWN, 262_144L * 1024),
                s.memory());
        assertEquals(List.of(new InstanceStats.DiskStats("vda", 0, 0, 0, 0, 1L << 30, 204_800)), s.disks());

        v.put("state.reason", 5L); // VIR_DOMAIN_SHUTOFF_SAVED: a managed save
        assertEquals(PowerState.SUSPENDED, DomainStats.of(UUID_1, SPEC, new TypedParams(v)).state());
        v.put("state.state", 7L); // PMSUSPENDED, which libvirt-java has no constant for
        assertEquals(PowerState.SUSPENDED, DomainStats.of(UUID_1, SPEC, new TypedParams(v)).state());
        v.put("state.state", 3L);
        assertEquals(PowerState.PAUSED, DomainStats.of(UUID_1, SPEC, new TypedParams(v)).state());
    }

    /** The raw bits of an ULLONG of 2^64 - 1 and of 2^63, as {@link TypedParams#read} keeps them. */
    private static final long ULLONG_MAX = -1L;
    private static final long ULLONG_2_63 = Long.MIN_VALUE;

    @Test
    void figuresThatDoNotFitAreUnknownNotAnError() {
        Memory m = new Memory(12L * TypedParams.SIZE);
        m.clear();
        put(m, 0, "vcpu.current", TypedParams.UINT, 0xFFFF_FFFFL); // (int) of it would be -1 vCPUs
        put(m, 1, "cpu.time", TypedParams.ULLONG, ULLONG_2_63);
        put(m, 2, "vcpu.1.time", TypedParams.ULLONG, ULLONG_MAX);
        put(m, 3, "balloon.rss", TypedParams.ULLONG, ULLONG_MAX);
        put(m, 4, "balloon.current", TypedParams.ULLONG, Long.MAX_VALUE / 512); // KiB whose bytes overflow a long
        put(m, 5, "net.1.rx.drop", TypedParams.ULLONG, ULLONG_MAX);
        put(m, 6, "net.1.tx.pkts", TypedParams.ULLONG, ULLONG_2_63);
        put(m, 7, "net.1.tx.errs", TypedParams.LLONG, -7);
        put(m, 8, "block.0.wr.bytes", TypedParams.ULLONG, ULLONG_MAX);
        put(m, 9, "block.0.physical", TypedParams.ULLONG, ULLONG_2_63);
        put(m, 10, "block.0.capacity", TypedParams.ULLONG, ULLONG_MAX);
        put(m, 11, "balloon.usable", TypedParams.ULLONG, ULLONG_MAX);
        Map<String, Object> v = running();
        v.putAll(TypedParams.read(m, 12).values());

        InstanceStats s = DomainStats.of(UUID_1, SPEC, new TypedParams(v));

        assertEquals(SPEC.flavor().vcpus(), s.vcpus(), "vcpu.current 2^32 - 1 is no vCPU count: the flavor's");
        assertEquals(0, s.cpuTimeNs());
        assertEquals(List.of(9_000_000_000L), s.vcpuTimesNs(), "the list stops at the first time that does not fit");
        assertEquals(new InstanceStats.Memory(InstanceStats.UNKNOWN, InstanceStats.UNKNOWN, InstanceStats.UNKNOWN),
                s.memory());
        assertEquals(List.of(new InstanceStats.VifStats(VIF.portId(), VIF.devName(), 9030, 39, InstanceStats.UNKNOWN,
                0, 726, 0, 0, InstanceStats.UNKNOWN)), s.vifs());
        assertEquals(List.of(new InstanceStats.DiskStats("vda", 754_176, 17, 0, 1, InstanceStats.UNKNOWN,
                InstanceStats.UNKNOWN)), s.disks());

        v.put("net.1.rx.bytes", ULLONG_MAX); // the VIF's bytes themselves unknown: the VIF is left out of the sample
        assertTrue(DomainStats.of(UUID_1, SPEC, new TypedParams(v)).vifs().isEmpty());
    }
}
