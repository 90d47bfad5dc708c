package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.berth.driver.api.InstanceStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The parsing of the kernel's files, on copies of what kernels print. The real engine's host here is a cgroup v1
 * one (DockerStatsTest covers it end to end); the cgroup v2 layout is covered on a tree of the same files.
 */
class CgroupsTest {
    private static final String ID = "6b4b8bf2068dc6e588fce7e08b5625f7b5141e3f85eb227354b1e5a1970be731";

    @TempDir
    Path tmp;

    private Path proc(String mountinfo) throws IOException {
        Path self = Files.createDirectories(tmp.resolve("proc/self"));
        Files.writeString(self.resolve("mountinfo"), mountinfo);
        return tmp.resolve("proc");
    }

    private Path v2Container(String rel) throws IOException {
        Path d = Files.createDirectories(tmp.resolve("cg").resolve(rel));
        Files.writeString(d.resolve("cpu.stat"), "usage_usec 4395393\nuser_usec 4344235\nsystem_usec 51158\n");
        Files.writeString(d.resolve("memory.current"), "54906880\n");
        Files.writeString(d.resolve("memory.max"), "max\n");
        Files.writeString(d.resolve("memory.stat"), "anon 151552\nfile 52445184\nkernel 1000\n"
                + "active_file 16384\ninactive_file 52428800\n");
        Files.writeString(d.resolve("io.stat"), "254:0 rbytes=4096 wbytes=52436992 rios=1 wios=16 dbytes=0 dios=0\n"
                + "253:0 rbytes=0 wbytes=8192 rios=0 wios=2 dbytes=0 dios=0\n");
        return d;
    }

    private String v2Mountinfo() {
        return "24 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
                + "30 24 0:26 / " + tmp.resolve("cg") + " rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
    }

    @Test
    void cgroupV2FiguresFromTheEngineDriversDirectory() throws IOException {
        v2Container("system.slice/docker-" + ID + ".scope");
        var cg = new Cgroups("2", "systemd", proc(v2Mountinfo()), 8L << 30);
        Cgroups.Dirs d = cg.dirs(ID, () -> {
            throw new AssertionError("the default directory needs no engine call");
        }).orElseThrow();
        Cgroups.Figures f = cg.read(d);
        assertEquals(4395393000L, f.cpuTimeNs());
        // used = current - inactive_file, resident = anon, limit "max" = the host's memory
        assertEquals(new InstanceStats.Memory(54906880L - 52428800L, 151552, 8L << 30), f.memory());
        assertEquals(List.of(new CgroupFiles.Io("254:0", 4096, 1, 52436992, 16),
                new CgroupFiles.Io("253:0", 0, 0, 8192, 2)), f.io());
    }

    @Test
    void aCgroupParentIsFoundThroughTheInitsProcCgroup() throws IOException {
        v2Container("custom.slice/" + ID);
        Path proc = proc(v2Mountinfo());
        Files.createDirectories(proc.resolve("4242"));
        Files.writeString(proc.resolve("4242/cgroup"), "0::/custom.slice/" + ID + "\n");
        var cg = new Cgroups("2", "cgroupfs", proc, 0);
        int[] asked = {0};
        Cgroups.Dirs d = cg.dirs(ID, () -> {
            asked[0]++;
            return 4242;
        }).orElseThrow();
        assertEquals(tmp.resolve("cg/custom.slice/" + ID), d.memory());
        assertEquals(d, cg.dirs(ID, () -> 0).orElseThrow(), "kept per container id");
        assertEquals(1, asked[0]);
        assertEquals(InstanceStats.UNKNOWN, cg.read(d).memory().limitBytes(), "no limit and no host figure");
        assertTrue(cg.dirs("f".repeat(64), () -> 0).isEmpty(), "not running, no default directory: none");

        try (var files = Files.walk(d.memory())) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        assertThrows(NoSuchFileException.class, () -> cg.read(d), "a vanished container's cgroup");
    }

    @Test
    void cgroupV1HierarchiesAndBlkio() throws IOException {
        String mi = "35 25 0:30 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
                + "36 25 0:31 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
                + "38 25 0:33 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                + "41 25 0:36 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n"
                + "44 25 0:39 /sub /mnt/elsewhere rw - cgroup cgroup rw,memory\n"
                + "45 25 0:40 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assertEquals(Map.of("cpuacct", Path.of("/sys/fs/cgroup/cpuacct"), "memory", Path.of("/sys/fs/cgroup/memory"),
                "blkio", Path.of("/sys/fs/cgroup/blkio")), Cgroups.mounts(mi, false));
        assertEquals(Map.of("", Path.of("/sys/fs/cgroup/unified")), Cgroups.mounts(mi, true));

        Path bytes = Files.writeString(tmp.resolve("b"), "254:0 Read 4096\n254:0 Write 52436992\n254:0 Sync 52436992\n"
                + "254:0 Async 0\n254:0 Discard 0\n254:0 Total 52441088\nTotal 52441088\n");
        Path ios = Files.writeString(tmp.resolve("i"), "254:0 Read 1\n254:0 Write 16\n254:0 Total 17\nTotal 17\n");
        assertEquals(List.of(new CgroupFiles.Io("254:0", 4096, 1, 52436992, 16)), CgroupFiles.blkio(bytes, ios));
        Path empty = Files.writeString(tmp.resolve("e"), "Total 0\n");
        assertEquals(List.of(), CgroupFiles.blkio(empty, empty), "nothing counted yet");
    }

    @Test
    void aMissingHierarchyIsNamed() throws IOException {
        var e = assertThrows(IOException.class, () -> new Cgroups("1", "cgroupfs",
                proc("45 25 0:40 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"), 0));
        assertTrue(e.getMessage().contains("controller cpuacct"), e.getMessage());
    }

    /** A v1 tree under tmp: cpuacct, memory, blkio hierarchies with one container of ID. */
    private Cgroups v1Tree() throws IOException {
        StringBuilder mi = new StringBuilder();
        int n = 40;
        for (String c : List.of("cpuacct", "memory", "blkio")) {
            Path d = Files.createDirectories(tmp.resolve("v1").resolve(c).resolve("docker").resolve(ID));
            mi.append(n++).append(" 25 0:").append(n).append(" / ").append(tmp.resolve("v1").resolve(c))
                    .append(" rw - cgroup cgroup rw,").append(c).append('\n');
            switch (c) {
                case "cpuacct" -> Files.writeString(d.resolve("cpuacct.usage"), "123456789\n");
                case "memory" -> {
                    Files.writeString(d.resolve("memory.usage_in_bytes"), "10485760\n");
                    Files.writeString(d.resolve("memory.limit_in_bytes"), Cgroups.V1_UNLIMITED + "\n");
                    Files.writeString(d.resolve("memory.stat"), "total_rss 4096\ntotal_inactive_file 8192\n");
                }
                default -> {
                    Files.writeString(d.resolve("blkio.throttle.io_service_bytes_recursive"), "Total 0\n");
                    Files.writeString(d.resolve("blkio.throttle.io_serviced_recursive"), "Total 0\n");
                }
            }
        }
        return new Cgroups("1", "cgroupfs", proc(mi.toString()), 0);
    }

    @Test
    void v1UnlimitedIsUnknownWithoutTheHostsMemoryAndCappedWithIt() throws IOException {
        Cgroups cg = v1Tree();
        Cgroups.Figures f = cg.read(cg.dirs(ID, () -> 0).orElseThrow());
        assertEquals(new InstanceStats.Memory(10485760 - 8192, 4096, InstanceStats.UNKNOWN), f.memory(),
                "v1's 9223372036854771712 is no limit, and the host's memory is unknown");
        assertEquals(8L << 30, Cgroups.limit(Cgroups.V1_UNLIMITED, false, 8L << 30), "capped at the host's memory");
        assertEquals(64L << 20, Cgroups.limit(64L << 20, false, 0), "a real limit stays");
        assertEquals(InstanceStats.UNKNOWN, Cgroups.limit(Long.MAX_VALUE, true, 0), "v2 max");
    }

    @Test
    void anUnreadableCgroupLeavesOneContainerOutAndOnlyUnreadableMountsFailTheSample() throws IOException {
        Cgroups cg = v1Tree();
        Cgroups.Dirs d = cg.dirs(ID, () -> 0).orElseThrow();
        assertTrue(cg.tryRead(ID, d).isPresent());
        // a file that answers an error other than ENOENT while the directory is there (as ENODEV/EIO would):
        // a directory in its place makes the read fail with a plain IOException
        Files.delete(d.memory().resolve("memory.stat"));
        Files.createDirectory(d.memory().resolve("memory.stat"));
        assertTrue(cg.tryRead(ID, d).isEmpty(), "left out, not thrown");
        assertTrue(cg.tryRead(ID, d).isEmpty(), "still left out (logged once only)");
        // gone: the container's directory removed
        try (var files = Files.walk(d.memory())) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        assertTrue(cg.tryRead(ID, d).isEmpty(), "a vanished cgroup: left out");
        // a mount that is not there any more: no container can be read, the sample fails naming it
        try (var files = Files.walk(tmp.resolve("v1/memory"))) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        var e = assertThrows(IOException.class, () -> cg.tryRead(ID, d));
        assertTrue(e.getMessage().contains("cgroup mount " + tmp.resolve("v1/memory")), e.getMessage());
    }

    @Test
    void theNoLimitRuleIsWrittenOnlyWhereTheDiskHasNoRule() throws IOException {
        Path rules = Files.writeString(tmp.resolve("read_bps_device"), "254:0 1048576\n");
        assertFalse(Cgroups.addNoLimitRule(rules, "254:0"), "an existing rule for the disk");
        assertEquals("254:0 1048576\n", Files.readString(rules), "left as it was");
        assertFalse(Cgroups.addNoLimitRule(rules, "254:0"));
        assertTrue(Cgroups.addNoLimitRule(rules, "254:16"), "another disk's rule is not this disk's");
        assertEquals("254:16 0", Files.readString(rules));
    }
}
