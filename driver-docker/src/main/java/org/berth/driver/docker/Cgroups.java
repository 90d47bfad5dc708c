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

    /** Drops the cached directories of a container whose cgroup was not there. */
    void forget(String containerId) {
        dirs.remove(containerId);
    }

    /** Drops the cached directories of containers no longer listed. */
    void retain(Set<String> containerIds) {
        dirs.keySet().retainAll(containerIds);
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
        } catch (java.nio.file.NoSuchFileException e) {
            return Optional.empty(); // ended meanwhile
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
        long cap = hostMemory > 0 ? Math.min(limit, hostMemory) : limit == Long.MAX_VALUE ? InstanceStats.UNKNOWN : limit;
        return new Figures(Math.max(0, cpu), new InstanceStats.Memory(used, resident, cap), io);
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
     * On cgroup v1 a kernel since 6.10 activates the block throttling policy of a disk only once a limit is
     * written for it, and until then {@code blkio.throttle.io_service*} count nothing (the engine's
     * {@code blkio_stats} are empty too). Writing "no limit" ({@code MAJ:MIN 0}) for the disk holding the engine's
     * data root, into the root cgroup, activates it without limiting anyone; harmless where it was active already.
     * Best effort: on failure the disk figures stay zero, as the engine's.
     */
    void activateV1IoAccounting(Path dataRoot) {
        if (v2) {
            return;
        }
        try {
            Object dev = Files.getAttribute(dataRoot, "unix:dev");
            long st = ((Number) dev).longValue();
            long major = ((st >>> 8) & 0xfff) | ((st >>> 32) & ~0xfffL);
            long minor = (st & 0xff) | ((st >>> 12) & ~0xffL);
            Path sys = Path.of("/sys/dev/block/" + major + ":" + minor);
            if (!Files.exists(sys)) {
                return; // not a block device (btrfs's or tmpfs's anonymous device): nothing to count on
            }
            String disk = Files.exists(sys.resolve("partition"))
                    ? CgroupFiles.read(sys.toRealPath().getParent().resolve("dev")).trim() : major + ":" + minor;
            Files.writeString(mounts.get("blkio").resolve("blkio.throttle.read_bps_device"), disk + " 0");
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "could not activate cgroup v1 block I/O accounting for " + dataRoot
                    + " (disk figures stay zero): " + e);
        }
    }
}
