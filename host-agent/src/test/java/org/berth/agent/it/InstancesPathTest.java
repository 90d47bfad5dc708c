package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.stream.Stream;
import org.berth.agent.TestAgent;
import org.berth.agent.config.ConfigException;
import org.junit.jupiter.api.Test;

/**
 * instances_path with the real kvm driver: a state directory QEMU cannot enter is fine, an instances directory
 * QEMU cannot reach stops the agent at start with the option, the path, the user and the fix (before, the agent
 * started and every VM spawn ended in error with "Permission denied" on its disk).
 */
class InstancesPathTest {
    @Test
    void anInstancesPathQemuCannotReachRefusesToStart() throws Exception {
        // TestAgent's directory is a 0700 temp directory, like root's home; its instances_path lies under it
        ConfigException e = assertThrows(ConfigException.class,
                () -> new TestAgent("drivers: {kvm: {enabled: true}}\n").close());
        assertEquals("instances_path", e.option());
        String m = e.getMessage();
        assertTrue(m.matches("(?s)instances_path: /tmp/berth-agent-test[^ ]*/instances: driver kvm keeps instance "
                + "disks in /tmp/berth-agent-test[^ ]*/instances/kvm, which libvirt-qemu \\(uid \\d+, gid \\d+\\) "
                + "cannot reach: /tmp/berth-agent-test[^ ]* is drwx------ uid 0 gid 0: others' bits give that user no "
                + "search \\(x\\) permission\\. Fix: set instances_path to a directory that user can reach \\(the "
                + "default is /var/lib/berth/instances\\), or give it search \\(x\\) permission on "
                + "/tmp/berth-agent-test[^ ]* \\(chmod o\\+x /tmp/berth-agent-test[^ ]*\\)"), m);
    }

    @Test
    void aStateDirQemuCannotEnterIsFineWhenInstancesPathIsReachable() throws Exception {
        Path instances = Files.createTempDirectory(Path.of("/var/tmp"), "berth-instances-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try (TestAgent t = new TestAgent("drivers: {kvm: {enabled: true}}\ninstances_path: " + instances.resolve("deeper/instances") + "\n")) {
            assertTrue(t.agent.drivers().find("kvm").isPresent(), () -> t.agent.drivers().states().toString());
            Path made = instances.resolve("deeper/instances/kvm");
            assertTrue(Files.isDirectory(made));
            for (Path p = made; !p.equals(instances); p = p.getParent()) {
                assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), p.toString());
            }
        } finally {
            try (Stream<Path> files = Files.walk(instances)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
