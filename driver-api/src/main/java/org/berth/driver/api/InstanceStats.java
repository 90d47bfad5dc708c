package org.berth.driver.api;

import java.util.List;
import java.util.UUID;

/**
 * One instance's counters as the backend reports them at one moment ({@link ComputeDriver#stats()}): the figures
 * Ceilometer's compute pollsters and Nova's instance diagnostics read, from the instance's point of view.
 * Counters ({@code cpuTimeNs}, every {@code *Bytes}/{@code *Packets}/{@code *Requests}/drops/errors) only grow while
 * the backend process behind them keeps running (a VM's QEMU process, a container's cgroup, a VIF's tap or veth): they
 * restart from zero when it is made anew (power on, hard reboot, resume, container start), as Prometheus'
 * {@code rate()} expects of a counter; each driver's README names its reset points. Gauges (memory, capacity,
 * allocation) go up and down. A figure the backend
 * does not report is {@link #UNKNOWN}, never a guess.
 *
 * @param uuid      the instance
 * @param state     its power state when sampled
 * @param cpuTimeNs CPU time consumed by the instance (all vCPUs, or every process of the container), in ns
 * @param vcpus     vCPUs the instance has (the flavor's, or the container's CPU limit rounded up)
 * @param vcpuTimesNs CPU time of each vCPU in ns, by vCPU index (empty where the backend has no per-vCPU figure,
 *                  as for a container)
 * @param memory    memory figures, see {@link Memory}
 * @param vifs      one entry per plugged VIF, in the spec's order
 * @param disks     one entry per disk device
 */
public record InstanceStats(UUID uuid, PowerState state, long cpuTimeNs, int vcpus, List<Long> vcpuTimesNs, Memory memory,
                            List<VifStats> vifs, List<DiskStats> disks) {
    /** A figure the backend does not report. */
    public static final long UNKNOWN = -1;

    public InstanceStats {
        Check.notNull(uuid, "stats.uuid");
        Check.notNull(state, "stats.state");
        Check.atLeast(cpuTimeNs, 0, "stats.cpu_time_ns");
        Check.atLeast(vcpus, 0, "stats.vcpus");
        vcpuTimesNs = List.copyOf(Check.notNull(vcpuTimesNs, "stats.vcpu_times_ns"));
        Check.notNull(memory, "stats.memory");
        vifs = List.copyOf(Check.notNull(vifs, "stats.vifs"));
        disks = List.copyOf(Check.notNull(disks, "stats.disks"));
    }

    /** Whether a figure was reported (is not {@link #UNKNOWN}). */
    public static boolean known(long figure) {
        return figure != UNKNOWN;
    }

    /**
     * Memory, in bytes, each {@link #UNKNOWN} where the backend has no such figure.
     *
     * @param usedBytes     memory the guest itself uses: for a VM what its balloon driver reports in use (available
     *                      minus usable, the guest's MemAvailable, or minus unused where the guest reports no usable;
     *                      Ceilometer's {@code memory.usage}), for a container the cgroup's usage minus
     *                      its inactive page cache (what {@code docker stats} shows)
     * @param residentBytes memory the host gives the instance now: a VM's QEMU process RSS, a container's anonymous
     *                      memory ({@code anon} of {@code memory.stat}; Ceilometer's {@code memory.resident})
     * @param limitBytes    the most it may have: a VM's current balloon size, a container's cgroup limit
     */
    public record Memory(long usedBytes, long residentBytes, long limitBytes) {
        public static final Memory NONE = new Memory(UNKNOWN, UNKNOWN, UNKNOWN);

        public Memory {
            Check.atLeast(usedBytes, UNKNOWN, "stats.memory.used_bytes");
            Check.atLeast(residentBytes, UNKNOWN, "stats.memory.resident_bytes");
            Check.atLeast(limitBytes, UNKNOWN, "stats.memory.limit_bytes");
        }
    }

    /**
     * A VIF's traffic as the instance sees it: {@code rx} is what the instance received (Ceilometer's
     * {@code network.incoming.*}), {@code tx} what it sent. Drops and errors are {@link #UNKNOWN} when not reported.
     *
     * @param portId the VIF's port id (Neutron's iface-id)
     * @param device the host-side device: the tap of a VM, the host end of a container's veth
     */
    public record VifStats(String portId, String device, long rxBytes, long rxPackets, long rxDrops, long rxErrors,
                           long txBytes, long txPackets, long txDrops, long txErrors) {
        public VifStats {
            Check.notBlank(portId, "stats.vifs.port_id");
            Check.notBlank(device, "stats.vifs.device");
            Check.atLeast(rxBytes, 0, "stats.vifs.rx_bytes");
            Check.atLeast(rxPackets, 0, "stats.vifs.rx_packets");
            Check.atLeast(rxDrops, UNKNOWN, "stats.vifs.rx_drops");
            Check.atLeast(rxErrors, UNKNOWN, "stats.vifs.rx_errors");
            Check.atLeast(txBytes, 0, "stats.vifs.tx_bytes");
            Check.atLeast(txPackets, 0, "stats.vifs.tx_packets");
            Check.atLeast(txDrops, UNKNOWN, "stats.vifs.tx_drops");
            Check.atLeast(txErrors, UNKNOWN, "stats.vifs.tx_errors");
        }
    }

    /**
     * A disk device's I/O since the instance's backend object started, and its size.
     *
     * @param device          the guest's device name ({@code vda}, {@code hdd}) or, for a container, the host block
     *                        device its writable layer lives on ({@code vda}, {@code sda})
     * @param capacityBytes   the disk's virtual size ({@link #UNKNOWN} for a container without a disk quota)
     * @param allocationBytes bytes the disk takes on the host now ({@link #UNKNOWN} where costly to find)
     */
    public record DiskStats(String device, long readBytes, long readRequests, long writeBytes, long writeRequests,
                            long capacityBytes, long allocationBytes) {
        public DiskStats {
            Check.notBlank(device, "stats.disks.device");
            Check.atLeast(readBytes, 0, "stats.disks.read_bytes");
            Check.atLeast(readRequests, 0, "stats.disks.read_requests");
            Check.atLeast(writeBytes, 0, "stats.disks.write_bytes");
            Check.atLeast(writeRequests, 0, "stats.disks.write_requests");
            Check.atLeast(capacityBytes, UNKNOWN, "stats.disks.capacity_bytes");
            Check.atLeast(allocationBytes, UNKNOWN, "stats.disks.allocation_bytes");
        }
    }
}
