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
 * <li>memory, all reported by libvirt in KiB: used = {@code balloon.available - balloon.unused}, what the guest's
 * balloon driver says is in use (Ceilometer's memory.usage; only while the guest runs virtio_balloon and after the
 * first stats period); resident = {@code balloon.rss}, QEMU's RSS on the host (Ceilometer's memory.resident; any
 * running domain); limit = {@code balloon.current}, the balloon's current size (the guest's memory unless
 * ballooned down). Each is UNKNOWN when libvirt does not report it.</li>
 * <li>VIFs: {@code net.N.name} is the tap; libvirt already turns a tap's counters round to the guest's view for
 * {@code <interface type='ethernet'>} (its {@code rx} is the tap's tx_bytes: what the guest received)</li>
 * <li>disks: {@code block.N.name} ({@code vda}, {@code hdd}), {@code rd/wr.bytes}, {@code rd/wr.reqs},
 * {@code capacity} (virtual size); allocation = {@code block.N.physical}, the bytes the image takes on the host:
 * the figure virDomainGetBlockInfo returns as allocation for a file, which Ceilometer's libvirt inspector
 * publishes as disk.device.allocation ({@code block.N.allocation} is QEMU's highest written offset instead)</li>
 * </ul>
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
        long vcpus = p.number("vcpu.current");
        // libvirt 9 reports a cpu.time for a shut-off domain too, read from a process that is not the domain's
        // (measured: 170-330 ms for a domain never started): no QEMU runs it, so it has used no CPU
        long cpu = active ? Math.max(0, p.number("cpu.time")) : 0;
        return new InstanceStats(uuid, state, cpu, vcpus > 0 ? (int) vcpus : spec.flavor().vcpus(),
                active ? vcpuTimes(p) : List.of(), memory(p), vifs(spec, p), disks(p, active));
    }

    static PowerState state(TypedParams p) {
        long s = p.number("state.state");
        DomainState[] known = DomainState.values(); // libvirt's order: NOSTATE .. CRASHED (0..6)
        DomainState state = s >= 0 && s < known.length ? known[(int) s] : null;
        return PowerStates.map(state, state == DomainState.VIR_DOMAIN_SHUTOFF
                && p.number("state.reason") == SHUTOFF_SAVED);
    }

    /** vcpu.0.time, vcpu.1.time, ... while present (our domains never hot-unplug a vCPU, so there is no gap). */
    private static List<Long> vcpuTimes(TypedParams p) {
        List<Long> times = new ArrayList<>();
        for (int i = 0; p.has("vcpu." + i + ".time"); i++) {
            times.add(p.number("vcpu." + i + ".time"));
        }
        return times;
    }

    private static Memory memory(TypedParams p) {
        long available = p.number("balloon.available");
        long unused = p.number("balloon.unused");
        long used = InstanceStats.known(available) && InstanceStats.known(unused) && available >= unused
                ? (available - unused) * KIB : InstanceStats.UNKNOWN;
        return new Memory(used, kib(p.number("balloon.rss")), kib(p.number("balloon.current")));
    }

    private static long kib(long figure) {
        return InstanceStats.known(figure) ? figure * KIB : InstanceStats.UNKNOWN;
    }

    /** The spec's VIFs libvirt reports counters for (a shut-off domain has none), in the spec's order. */
    private static List<VifStats> vifs(InstanceSpec spec, TypedParams p) {
        List<VifStats> vifs = new ArrayList<>();
        long count = p.number("net.count");
        for (VifSpec vif : spec.vifs()) {
            for (int i = 0; i < count; i++) {
                String k = "net." + i + ".";
                if (!p.string(k + "name").filter(vif.devName()::equals).isPresent()) {
                    continue;
                }
                long rxBytes = p.number(k + "rx.bytes");
                long txBytes = p.number(k + "tx.bytes");
                if (InstanceStats.known(rxBytes) && InstanceStats.known(txBytes)) {
                    vifs.add(new VifStats(vif.portId(), vif.devName(), rxBytes, Math.max(0, p.number(k + "rx.pkts")),
                            p.number(k + "rx.drop"), p.number(k + "rx.errs"), txBytes,
                            Math.max(0, p.number(k + "tx.pkts")), p.number(k + "tx.drop"), p.number(k + "tx.errs")));
                }
                break;
            }
        }
        return vifs;
    }

    /**
     * Every disk device. A running domain's disk without I/O counters (its job was busy: NOWAIT) is left out of this
     * sample rather than reported as 0, which would look like a counter going backwards; a shut-off domain's disks
     * have done no I/O since no QEMU runs them.
     */
    private static List<DiskStats> disks(TypedParams p, boolean active) {
        List<DiskStats> disks = new ArrayList<>();
        long count = p.number("block.count");
        for (int i = 0; i < count; i++) {
            String k = "block." + i + ".";
            String name = p.string(k + "name").orElse("");
            boolean counted = p.has(k + "rd.bytes") && p.has(k + "wr.bytes");
            if (name.isBlank() || active && !counted) {
                continue;
            }
            disks.add(new DiskStats(name, Math.max(0, p.number(k + "rd.bytes")), Math.max(0, p.number(k + "rd.reqs")),
                    Math.max(0, p.number(k + "wr.bytes")), Math.max(0, p.number(k + "wr.reqs")),
                    p.number(k + "capacity"), p.number(k + "physical")));
        }
        return disks;
    }
}
