package org.berth.driver.docker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.berth.driver.api.InstanceStats;

/**
 * The cgroups of a local engine's containers, read straight from the cgroup file systems: what the engine's own
 * stats API reads, without its wait for two samples. Both layouts runc makes: cgroup v2 ({@code cpu.stat},
 * {@code memory.current}, {@code memory.stat}, {@code memory.max}, {@code io.stat} in one directory) and cgroup
 * v1, which a hybrid host (systemd's v1 controllers plus an empty unified tree) still gives dockerd
 * ({@code cpuacct.usage}, {@code memory.usage_in_bytes}, {@code memory.stat}, {@code memory.limit_in_bytes},
 * {@code blkio.throttle.io_service*_recursive}, each in its controller's tree).
 */
final class Cgroups {
    private static final Logger LOG = Logger.getLogger(Cgroups.class.getName());

    /** Where one container's files are; in v2 the three are one directory. */
    record Dirs(Path cpu, Path memory, Path io) {
    }

    /** One container's figures at one moment. */
    record Figures(long cpuTimeNs, InstanceStats.Memory memory, List<CgroupFiles.Io> io) {
    }

    private final boolean v2;
    private final boolean systemd;
    private final Path proc;
    /** v2: "" → the unified mount point; v1: controller (cpuacct, memory, blkio) → its hierarchy's mount point. */
    private final Map<String, Path> mounts;
    private final long hostMemory;
    private final Map<String, Dirs> dirs = new ConcurrentHashMap<>();
    /** Containers whose cgroup was there but unreadable, logged once: while it lasts, not again. */
    private final Set<String> unreadable = ConcurrentHashMap.newKeySet();

    /**
     * @param cgroupVersion the engine's {@code CgroupVersion} ("1" or "2")
     * @param cgroupDriver  the engine's {@code CgroupDriver} ("cgroupfs" or "systemd")
     * @param proc          procfs ({@code /proc}): its {@code self/mountinfo} names the cgroup mounts
     * @param hostMemory    bytes of the host's memory: the limit of a container without one, as the engine reports
     */
    Cgroups(String cgroupVersion, String cgroupDriver, Path proc, long hostMemory) throws IOException {
        this.v2 = "2".equals(cgroupVersion);
        this.systemd = "systemd".equals(cgroupDriver);
        this.proc = proc;
        this.hostMemory = hostMemory;
        this.mounts = mounts(CgroupFiles.read(proc.resolve("self/mountinfo")), v2);
        for (String need : v2 ? List.of("") : List.of("cpuacct", "memory", "blkio")) {
            if (!mounts.containsKey(need)) {
                throw new IOException("no cgroup" + (v2 ? "2 file system" : " v1 hierarchy of controller " + need)
                        + " is mounted (engine CgroupVersion " + cgroupVersion + ")");
            }
        }
    }

    boolean v2() {
        return v2;
    }

    /** The mount point of the v1 {@code blkio} hierarchy (empty on v2). */
    Optional<Path> blkioMount() {
        return v2 ? Optional.empty() : Optional.of(mounts.get("blkio"));
    }

    /** Mount points by controller from {@code /proc/self/mountinfo} lines (field 5 the mount point, after " - " the type). */
    static Map<String, Path> mounts(String mountinfo, boolean v2) {
        Map<String, Path> out = new HashMap<>();
        for (String line : mountinfo.split("\n")) {
            int dash = line.indexOf(" - ");
            if (dash < 0) {
                continue;
            }
            String[] pre = line.substring(0, dash).split(" ");
            String[] post = line.substring(dash + 3).split(" ");
            if (pre.length < 5 || post.length < 3 || !pre[3].equals("/")) {
                continue; // a bind of a sub-tree, whose paths are not the ones /proc/<pid>/cgroup gives
            }
            Path at = Path.of(pre[4].replace("\\040", " "));
            if (v2 && post[0].equals("cgroup2")) {
                out.putIfAbsent("", at);
            } else if (!v2 && post[0].equals("cgroup")) {
                for (String opt : post[2].split(",")) {
                    if (Set.of("cpuacct", "memory", "blkio").contains(opt)) {
                        out.putIfAbsent(opt, at);
                    }
                }
            }
        }
        return out;
    }

    /**
     * The container's directories: found once per container id and kept (a container keeps its cgroup path across
     * restarts). First where the engine's cgroup driver puts them by default ({@code docker/<id>} or
     * {@code system.slice/docker-<id>.scope}); else, for an engine with a {@code cgroup-parent}, from
     * {@code /proc/<pid>/cgroup} of the container's init ({@code pid} asks the engine; 0 when not running).
     */
    Optional<Dirs> dirs(String containerId, LongSupplier pid) throws IOException {
        Dirs known = dirs.get(containerId);
        if (known != null) {
            return Optional.of(known);
        }
        String rel = systemd ? "system.slice/docker-" + containerId + ".scope" : "docker/" + containerId;
        Dirs d = at(rel, rel, rel);
        if (!Files.isDirectory(d.memory())) {
            long p = pid.getAsLong();
            if (p <= 0) {
                return Optional.empty();
            }
            d = fromProc(p).orElse(null);
            if (d == null || !Files.isDirectory(d.memory())) {
                return Optional.empty();
            }
        }
        dirs.put(containerId, d);
        return Optional.of(d);
    }

    /**
     * The container's figures, or empty when they cannot be had now: its cgroup is gone (the container stopped or
     * was removed since the list: any error of the read, since a cgroup being removed answers ENODEV as well as
     * ENOENT), or it is there but a file of it is unreadable (left out, logged once per container). Only cgroup
     * mounts that cannot be read fail the whole sample.
     *
     * @throws IOException when a cgroup mount itself is not readable: no container can be read then
     */
    Optional<Figures> tryRead(String containerId, Dirs d) throws IOException {
        try {
            Figures f = read(d);
            unreadable.remove(containerId);
            return Optional.of(f);
        } catch (IOException e) {
            forget(containerId); // found anew next time: a restarted container may have a new path
            requireMounts(e);
            if (Files.isDirectory(d.cpu()) && Files.isDirectory(d.memory()) && Files.isDirectory(d.io())
                    && unreadable.add(containerId)) {
                LOG.log(Level.WARNING, "container " + containerId + " left out of the stats: its cgroup is there but "
                        + "cannot be read (logged once while it lasts): " + e);
            }
            return Optional.empty();
        }
    }

    /** Each mount point is a readable directory; else the whole sample fails with {@code cause}. */
    void requireMounts(IOException cause) throws IOException {
        for (Path m : mounts.values()) {
            if (!Files.isDirectory(m) || !Files.isReadable(m)) {
                throw new IOException("cgroup mount " + m + " is not readable: " + cause.getMessage(), cause);
            }
        }
    }

    /** Drops the cached directories of a container whose cgroup was not there. */
    void forget(String containerId) {
        dirs.remove(containerId);
    }

    /** Drops the cached directories of containers no longer listed. */
    void retain(Set<String> containerIds) {
        dirs.keySet().retainAll(containerIds);
        unreadable.retainAll(containerIds);
    }

    private Dirs at(String cpu, String memory, String io) {
        if (v2) {
            Path d = mounts.get("").resolve(memory);
            return new Dirs(d, d, d);
        }
        return new Dirs(mounts.get("cpuacct").resolve(cpu), mounts.get("memory").resolve(memory),
                mounts.get("blkio").resolve(io));
    }

    /** {@code hierarchy-id:controllers:path} lines; v2 has the one line {@code 0::path}. */
    private Optional<Dirs> fromProc(long pid) throws IOException {
        Map<String, String> paths = new HashMap<>();
        String text;
        try {
            text = CgroupFiles.read(proc.resolve(pid + "/cgroup"));
        } catch (IOException e) {
            return Optional.empty(); // ended meanwhile: ENOENT once gone, ESRCH while it exits
        }
        for (String line : text.split("\n")) {
            String[] f = line.split(":", 3);
            if (f.length != 3) {
                continue;
            }
            String rel = f[2].startsWith("/") ? f[2].substring(1) : f[2];
            if (f[0].equals("0") && f[1].isEmpty()) {
                paths.put("", rel);
            }
            for (String c : f[1].split(",")) {
                paths.put(c, rel);
            }
        }
        if (v2) {
            return Optional.ofNullable(paths.get("")).map(p -> at(p, p, p));
        }
        if (!paths.keySet().containsAll(List.of("cpuacct", "memory", "blkio"))) {
            return Optional.empty();
        }
        return Optional.of(at(paths.get("cpuacct"), paths.get("memory"), paths.get("blkio")));
    }

    /**
     * The container's figures. Memory as the docker CLI computes it: used = usage minus inactive page cache
     * ({@code inactive_file} on v2, {@code total_inactive_file} on v1); resident = anonymous memory ({@code anon}
     * on v2, {@code total_rss} on v1); limit = the cgroup's, or the host's memory when it has none or a larger
     * one (as the engine reports {@code memory_stats.limit}).
     *
     * @throws java.nio.file.NoSuchFileException when the cgroup is gone (the container stopped or was removed)
     */
    Figures read(Dirs d) throws IOException {
        long cpu;
        long usage;
        long limit;
        Map<String, Long> stat = CgroupFiles.keyed(d.memory().resolve("memory.stat"));
        long inactive;
        long resident;
        List<CgroupFiles.Io> io;
        if (v2) {
            cpu = CgroupFiles.keyed(d.cpu().resolve("cpu.stat")).getOrDefault("usage_usec", 0L) * 1000;
            usage = CgroupFiles.number(d.memory().resolve("memory.current"));
            limit = CgroupFiles.number(d.memory().resolve("memory.max"));
            inactive = stat.getOrDefault("inactive_file", 0L);
            resident = stat.getOrDefault("anon", InstanceStats.UNKNOWN);
            io = readIo(() -> CgroupFiles.ioStat(d.io().resolve("io.stat")));
        } else {
            cpu = CgroupFiles.number(d.cpu().resolve("cpuacct.usage"));
            usage = CgroupFiles.number(d.memory().resolve("memory.usage_in_bytes"));
            limit = CgroupFiles.number(d.memory().resolve("memory.limit_in_bytes"));
            inactive = stat.getOrDefault("total_inactive_file", 0L);
            resident = stat.getOrDefault("total_rss", InstanceStats.UNKNOWN);
            io = readIo(() -> CgroupFiles.blkio(d.io().resolve("blkio.throttle.io_service_bytes_recursive"),
                    d.io().resolve("blkio.throttle.io_serviced_recursive")));
        }
        long used = inactive < usage ? usage - inactive : usage;
        long cap = limit(limit, v2, hostMemory);
        return new Figures(Math.max(0, cpu), new InstanceStats.Memory(used, resident, cap), io);
    }

    /**
     * v1's "no limit" is the largest page-aligned value, {@link #V1_UNLIMITED} (LONG_MAX rounded down to 4 KiB),
     * never "max"; at or above it a limit is none.
     */
    static final long V1_UNLIMITED = 9223372036854771712L;

    /**
     * The memory limit reported: the cgroup's, or the host's memory when it has none or a larger one (as the engine
     * reports {@code memory_stats.limit}); UNKNOWN for none when the host's memory is unknown, never v1's huge
     * "unlimited" number.
     */
    static long limit(long cgroupLimit, boolean v2, long hostMemory) {
        boolean none = cgroupLimit == Long.MAX_VALUE || (!v2 && cgroupLimit >= V1_UNLIMITED);
        if (hostMemory > 0) {
            return Math.min(cgroupLimit, hostMemory);
        }
        return none ? InstanceStats.UNKNOWN : cgroupLimit;
    }

    private interface IoRead {
        List<CgroupFiles.Io> get() throws IOException;
    }

    /** io.stat is absent while the io controller is not enabled for the tree: no disk figures then, not a failure. */
    private static List<CgroupFiles.Io> readIo(IoRead read) throws IOException {
        try {
            return read.get();
        } catch (java.nio.file.NoSuchFileException e) {
            return List.of();
        }
    }

    /**
     * On cgroup v1 a kernel since 6.10 turns on the block throttling policy of a disk only once a throttle rule is
     * written for it in some cgroup, and until then {@code blkio.throttle.io_service*} count nothing (the engine's
     * {@code blkio_stats} are empty too; checked on 6.18 with a loop device: {@code Total 0} after 8 MiB of direct
     * writes, counted after a "no limit" write). So, when option {@code blkio_accounting} is true, the driver
     * writes "no limit" ({@code MAJ:MIN 0}, the value every cgroup has by default) for the disk holding the
     * engine's data root into the root cgroup's {@code blkio.throttle.read_bps_device}: the policy then accounts
     * every I/O to the disk (and throttles nothing). The file is read first: a rule already there for the disk is
     * never overwritten (the policy is on already). Best effort: on failure the disk figures stay zero, as the
     * engine's. Nothing on v2, whose {@code io.stat} counts always.
     */
    void activateV1IoAccounting(Path dataRoot, Path sys) {
        if (v2) {
            return;
        }
        try {
            Optional<String> disk = diskOf(dataRoot, sys);
            if (disk.isEmpty()) {
                return; // not a block device (btrfs's or tmpfs's anonymous device): nothing to count on
            }
            Path rules = mounts.get("blkio").resolve("blkio.throttle.read_bps_device");
            if (addNoLimitRule(rules, disk.get())) {
                LOG.info("cgroup v1 block I/O accounting turned on for disk " + disk.get() + " (of " + dataRoot
                        + "): wrote '" + disk.get() + " 0' (no limit) into " + rules
                        + "; option blkio_accounting: false leaves it alone");
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "could not turn on cgroup v1 block I/O accounting for " + dataRoot
                    + " (disk figures stay zero): " + e);
        }
    }

    /** {@code MAJ:MIN} of the whole disk holding {@code path} (a partition's parent), empty when not a block device. */
    static Optional<String> diskOf(Path path, Path sys) throws IOException {
        long st = ((Number) Files.getAttribute(path, "unix:dev")).longValue();
        long major = ((st >>> 8) & 0xfff) | ((st >>> 32) & ~0xfffL);
        long minor = (st & 0xff) | ((st >>> 12) & ~0xffL);
        Path dev = sys.resolve("dev/block/" + major + ":" + minor);
        if (!Files.exists(dev)) {
            return Optional.empty();
        }
        return Optional.of(Files.exists(dev.resolve("partition"))
                ? CgroupFiles.read(dev.toRealPath().getParent().resolve("dev")).trim() : major + ":" + minor);
    }

    /**
     * Writes {@code disk 0} into a throttle rule file unless it lists a rule for {@code disk} already (writing
     * would replace that rule with "no limit").
     *
     * @return whether it wrote
     */
    static boolean addNoLimitRule(Path rules, String disk) throws IOException {
        for (String line : CgroupFiles.read(rules).split("\n")) {
            if (line.startsWith(disk + " ")) {
                return false;
            }
        }
        Files.writeString(rules, disk + " 0");
        return true;
    }
}
