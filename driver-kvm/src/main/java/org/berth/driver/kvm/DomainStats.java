package org.berth.driver.kvm;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.InstanceStats.DiskStats;
import org.berth.driver.api.InstanceStats.Memory;
import org.berth.driver.api.InstanceStats.VifStats;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.libvirt.DomainInfo.DomainState;

/**
 * One domain's bulk statistics ({@link BulkStats}) as {@link InstanceStats}. The figures, by libvirt's field names
 * (virConnectGetAllDomainStats):
 * <ul>
 * <li>state: {@code state.state}, {@code state.reason}; shut off with reason SAVED (a managed save) is SUSPENDED</li>
 * <li>cpu time: {@code cpu.time}, the CPU time of every QEMU thread of the domain (not only the vCPUs; its cgroup's
 * or, where libvirt has no cgroup for it, its process's), ns; 0 for a shut-off domain</li>
 * <li>vcpus: {@code vcpu.current} (else the flavor's); per vCPU {@code vcpu.N.time}, ns</li>
 * <li>memory, all reported by libvirt in KiB: used = {@code balloon.available - balloon.usable}, the guest's
 * MemTotal minus its MemAvailable as its balloon driver reports them (Ceilometer's memory.usage: page cache the
 * guest can drop is not used); {@code balloon.available - balloon.unused} (MemTotal - MemFree, page cache counted as
 * used) only where the guest reports no {@code usable} (a Linux guest before 4.6), as Ceilometer falls back. Only
 * while the guest runs virtio_balloon and after the first stats period. resident = {@code balloon.rss}, QEMU's RSS
 * on the host (Ceilometer's memory.resident; any running domain); limit = {@code balloon.current}, the balloon's
 * current size (the guest's memory unless ballooned down). Each is UNKNOWN when libvirt does not report it.</li>
 * <li>VIFs: {@code net.N.name} is the tap; libvirt already turns a tap's counters round to the guest's view for
 * {@code <interface type='ethernet'>} (its {@code rx} is the tap's tx_bytes: what the guest received)</li>
 * <li>disks: {@code block.N.name} ({@code vda}, {@code hdd}), {@code rd/wr.bytes}, {@code rd/wr.reqs},
 * {@code capacity} (virtual size); allocation = the bytes the image file takes on the host (st_blocks x 512, like
 * {@code du}; virDomainGetBlockInfo's allocation for a file, Ceilometer's disk.device.allocation). libvirt 9 puts
 * that figure in a different field depending on who measured it: a disk QEMU answered for (it has I/O counters)
 * has it in {@code block.N.physical} (QEMU's {@code actual-size} of the image; {@code block.N.allocation} is then
 * QEMU's highest written offset), a disk libvirt stat()ed itself (a shut-off domain) in {@code block.N.allocation}
 * ({@code block.N.physical} is then st_size).</li>
 * </ul>
 * Counters are the QEMU process's (cpu, vCPU, disk) or the tap's (VIF) and restart with them: README, "When
 * counters restart". libvirt's integers are unsigned where its API says so: a figure that does not fit a
 * non-negative long (a UINT or ULLONG with its top bit set, as a broken counter reads) is UNKNOWN, never a negative
 * number.
 */
final class DomainStats {
    private static final long KIB = 1024;
    /** virDomainShutoffReason VIR_DOMAIN_SHUTOFF_SAVED. */
    private static final int SHUTOFF_SAVED = 5;

    private DomainStats() {
    }

    static InstanceStats of(UUID uuid, InstanceSpec spec, TypedParams p) {
        PowerState state = state(p);
        boolean active = p.number("state.state") != DomainState.VIR_DOMAIN_SHUTOFF.ordinal();
        long vcpus = p.figure("vcpu.current");
        // libvirt 9 reports a cpu.time for a shut-off domain too, read from a process that is not the domain's
        // (measured: 170-330 ms for a domain never started): no QEMU runs it, so it has used no CPU
        long cpu = active ? count(p, "cpu.time") : 0;
        // a UINT vcpu.current of 0xFFFFFFFF would be -1 as an int
        return new InstanceStats(uuid, state, cpu, vcpus > 0 && vcpus <= Integer.MAX_VALUE ? (int) vcpus
                : spec.flavor().vcpus(),
                active ? vcpuTimes(p) : List.of(), memory(p), vifs(spec, p), disks(p, active));
    }

    static PowerState state(TypedParams p) {
        long s = p.number("state.state");
        DomainState[] known = DomainState.values(); // libvirt's order: NOSTATE .. CRASHED (0..6)
        DomainState state = s >= 0 && s < known.length ? known[(int) s] : null;
        return PowerStates.map(state, state == DomainState.VIR_DOMAIN_SHUTOFF
                && p.number("state.reason") == SHUTOFF_SAVED);
    }

    /**
     * A counter the record needs at least 0 for: an unreported or unmappable one is 0, as before the first sample
     * that has it.
     */
    private static long count(TypedParams p, String key) {
        return Math.max(0, p.figure(key));
    }

    /**
     * vcpu.0.time, vcpu.1.time, ... while present (our domains never hot-unplug a vCPU, so there is no gap); a time
     * that is no non-negative long ends the list rather than putting UNKNOWN among times.
     */
    private static List<Long> vcpuTimes(TypedParams p) {
        List<Long> times = new ArrayList<>();
        for (int i = 0; InstanceStats.known(p.figure("vcpu." + i + ".time")); i++) {
            times.add(p.figure("vcpu." + i + ".time"));
        }
        return times;
    }

    private static Memory memory(TypedParams p) {
        long available = p.figure("balloon.available");
        long free = p.has("balloon.usable") ? p.figure("balloon.usable") : p.figure("balloon.unused");
        long used = InstanceStats.known(available) && InstanceStats.known(free) && available >= free
                ? kib(available - free) : InstanceStats.UNKNOWN;
        return new Memory(used, kib(p.figure("balloon.rss")), kib(p.figure("balloon.current")));
    }

    /** KiB to bytes; UNKNOWN for an unknown figure or one whose bytes do not fit a long. */
    private static long kib(long figure) {
        return InstanceStats.known(figure) && figure <= Long.MAX_VALUE / KIB ? figure * KIB : InstanceStats.UNKNOWN;
    }

    /** The spec's VIFs libvirt reports counters for (a shut-off domain has none), in the spec's order. */
    private static List<VifStats> vifs(InstanceSpec spec, TypedParams p) {
        List<VifStats> vifs = new ArrayList<>();
        long count = p.figure("net.count");
        for (VifSpec vif : spec.vifs()) {
            for (int i = 0; i < count; i++) {
                String k = "net." + i + ".";
                if (!p.string(k + "name").filter(vif.devName()::equals).isPresent()) {
                    continue;
                }
                long rxBytes = p.figure(k + "rx.bytes");
                long txBytes = p.figure(k + "tx.bytes");
                if (InstanceStats.known(rxBytes) && InstanceStats.known(txBytes)) {
                    vifs.add(new VifStats(vif.portId(), vif.devName(), rxBytes, count(p, k + "rx.pkts"),
                            p.figure(k + "rx.drop"), p.figure(k + "rx.errs"), txBytes, count(p, k + "tx.pkts"),
                            p.figure(k + "tx.drop"), p.figure(k + "tx.errs")));
                }
                break;
            }
        }
        return vifs;
    }

    /**
     * Every disk device. A running domain's disk without I/O counters (its job was busy: NOWAIT) is left out of this
     * sample rather than reported as 0, which would look like a counter going backwards; a shut-off domain's disks
     * have done no I/O since no QEMU runs them. The allocated bytes are in {@code physical} where QEMU answered (the
     * disk has counters) and in {@code allocation} where libvirt stat()ed the file (see the class comment).
     */
    private static List<DiskStats> disks(TypedParams p, boolean active) {
        List<DiskStats> disks = new ArrayList<>();
        long count = p.figure("block.count");
        for (int i = 0; i < count; i++) {
            String k = "block." + i + ".";
            String name = p.string(k + "name").orElse("");
            boolean counted = p.has(k + "rd.bytes") && p.has(k + "wr.bytes");
            if (name.isBlank() || active && !counted) {
                continue;
            }
            disks.add(new DiskStats(name, count(p, k + "rd.bytes"), count(p, k + "rd.reqs"),
                    count(p, k + "wr.bytes"), count(p, k + "wr.reqs"), p.figure(k + "capacity"),
                    p.figure(k + (counted ? "physical" : "allocation"))));
        }
        return disks;
    }
}
