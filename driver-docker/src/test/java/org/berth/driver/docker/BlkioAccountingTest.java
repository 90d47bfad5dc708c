package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverException;
import org.berth.lab.Cmd;
import org.junit.jupiter.api.Test;

/**
 * Option {@code blkio_accounting}, and its "no limit" write on the real cgroup v1 root: a rule the host has for
 * the disk is never replaced. The disk is a loop device this test makes (not the host's), so the host's own rules
 * are not touched.
 */
class BlkioAccountingTest {
    private static final Path ROOT_RULES = Path.of("/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device");

    @Test
    void theOptionIsTrueByDefaultAndOnlyTrueOrFalse() {
        assertTrue(DockerSettings.from(DriverConfig.empty("docker")).blkioAccounting());
        assertFalse(DockerSettings.from(new DriverConfig("docker", Map.of("blkio_accounting", "False")))
                .blkioAccounting());
        var e = assertThrows(DriverException.InvalidConfiguration.class, () -> DockerSettings.from(
                new DriverConfig("docker", Map.of("blkio_accounting", "yes"))));
        assertTrue(e.getMessage().contains("drivers.docker.blkio_accounting") && e.getMessage().contains("true or false"),
                e.getMessage());
    }

    private static String run(String... argv) {
        return Cmd.run(Duration.ofSeconds(30), List.of(argv)).orThrow().trim();
    }

    @Test
    void anExistingRootRuleForTheDiskIsNeverReplaced() throws Exception {
        if (!Files.isWritable(ROOT_RULES)) {
            // only a cgroup v1 host has the root rule file; a v2 host (unified hierarchy) needs no accounting switch
            assertTrue(Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers")),
                    "neither a writable v1 blkio root (" + ROOT_RULES + ") nor a cgroup v2 hierarchy on this host");
            return;
        }
        Path img = Files.createTempFile(Path.of("/var/tmp"), "berth-blkio-", ".img");
        String loop = null;
        String disk = null;
        try {
            run("truncate", "-s", "16M", img.toString());
            loop = run("losetup", "-f", "--show", img.toString());
            disk = run("lsblk", "-dno", "MAJ:MIN", loop).trim();
            Files.writeString(ROOT_RULES, disk + " 1099511627776");
            assertFalse(Cgroups.addNoLimitRule(ROOT_RULES, disk), "the disk has a rule: nothing written");
            assertTrue(Files.readString(ROOT_RULES).contains(disk + " 1099511627776\n"), Files.readString(ROOT_RULES));
            Files.writeString(ROOT_RULES, disk + " 0"); // the test's rule removed
            assertTrue(Cgroups.addNoLimitRule(ROOT_RULES, disk), "no rule: the no-limit write");
            assertFalse(Files.readString(ROOT_RULES).contains(disk + " "), "'no limit' is no rule: none listed");
        } finally {
            if (disk != null) {
                Files.writeString(ROOT_RULES, disk + " 0");
            }
            if (loop != null) {
                run("losetup", "-d", loop);
            }
            Files.deleteIfExists(img);
        }
        String left = Files.readString(ROOT_RULES);
        assertFalse(left.contains(disk + " "), "the test's rule left: " + left);
        assertFalse(run("losetup", "-j", img.toString()).contains(loop), "loop device left");
        assertFalse(Files.exists(img));
    }
}
