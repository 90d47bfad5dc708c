package org.berth.conformance.leak;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.berth.conformance.host.HostCommand;
import org.berth.driver.api.InstanceSpec;

/**
 * Looks at the host itself, not at the driver, for what a test's instances left behind: containers and libvirt
 * domains named {@code berth-<uuid>}, tap/veth devices and OVS interfaces of the test's ports, and files under the
 * driver's state directory that name an instance. Probes whose tool is not installed are skipped (a host without
 * Docker cannot hold a leaked container). Scoped to the test's own UUIDs and ports, so other users of a shared
 * host do not make it fail.
 *
 * <p>A VIF plugger may delete an unplugged device in the background (the kernel takes ~20 ms per link; Berth's
 * ovs-vif does so): the OVS port must be gone at once, the device within {@link #DEVICE_SETTLE}. A device still
 * there after that is a leak.
 */
public final class LeakCheck {
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(20);
    /** How long an unplugged device may take to leave the host. */
    public static final Duration DEVICE_SETTLE = Duration.ofSeconds(3);

    private LeakCheck() {
    }

    /** One line per leaked artefact, e.g. {@code container berth-<uuid> (status: exited)}; empty when clean. */
    public static List<String> leftovers(Collection<UUID> instances, Collection<String> portIds, Path stateDir) {
        var leaks = new ArrayList<String>();
        Set<String> names = Set.copyOf(instances.stream().map(InstanceSpec::backendName).toList());
        if (!names.isEmpty()) {
            docker(names, leaks);
            libvirt(names, leaks);
            stateDir(instances, stateDir, leaks);
        }
        if (!portIds.isEmpty()) {
            links(portIds, leaks);
            ovs(portIds, leaks);
        }
        return leaks;
    }

    private static void docker(Set<String> names, List<String> leaks) {
        var docker = HostCommand.find("docker");
        if (docker.isEmpty() || !Files.exists(Path.of("/var/run/docker.sock"))) {
            return;
        }
        var r = HostCommand.run(PROBE_TIMEOUT, docker.get().toString(), "ps", "-a", "--format", "{{.Names}} {{.Status}}");
        if (!r.ok()) {
            leaks.add("docker probe failed (cannot tell whether containers leaked): " + r.stderr().strip());
            return;
        }
        r.stdout().lines().forEach(line -> {
            String name = line.split(" ", 2)[0];
            if (names.contains(name)) {
                leaks.add("container " + name + " (status: " + line.substring(name.length()).strip() + ")");
            }
        });
    }

    private static void libvirt(Set<String> names, List<String> leaks) {
        var virsh = HostCommand.find("virsh");
        if (virsh.isEmpty() || !Files.exists(Path.of("/var/run/libvirt/libvirt-sock"))) {
            return;
        }
        var r = HostCommand.run(PROBE_TIMEOUT, virsh.get().toString(), "-c", "qemu:///system", "list", "--all", "--name");
        if (!r.ok()) {
            leaks.add("libvirt probe failed (cannot tell whether domains leaked): " + r.stderr().strip());
            return;
        }
        r.stdout().lines().map(String::strip).filter(names::contains)
                .forEach(name -> leaks.add("libvirt domain " + name));
    }

    /** The host's links, polled in sysfs until the test's devices are gone or {@link #DEVICE_SETTLE} has passed. */
    private static void links(Collection<String> portIds, List<String> leaks) {
        long deadline = System.nanoTime() + DEVICE_SETTLE.toNanos();
        List<String> left = devicesOnHost(portIds);
        while (!left.isEmpty() && System.nanoTime() - deadline < 0) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            left = devicesOnHost(portIds);
        }
        leaks.addAll(left);
    }

    private static List<String> devicesOnHost(Collection<String> portIds) {
        List<String> found = new ArrayList<>();
        for (String port : portIds) {
            for (String dev : List.of("tap" + port.substring(0, 11), "ns" + port.substring(0, 11))) {
                if (Files.exists(Path.of("/sys/class/net", dev))) {
                    found.add("network device " + dev + " (port " + port + ")");
                }
            }
        }
        return found;
    }

    private static void ovs(Collection<String> portIds, List<String> leaks) {
        var vsctl = HostCommand.find("ovs-vsctl");
        if (vsctl.isEmpty() || !Files.exists(Path.of("/var/run/openvswitch/db.sock"))) {
            return;
        }
        for (String port : portIds) {
            var r = HostCommand.run(PROBE_TIMEOUT, vsctl.get().toString(), "--timeout=10", "--bare", "--columns=name",
                    "find", "Interface", "external_ids:iface-id=" + port);
            if (!r.ok()) {
                leaks.add("OVS probe failed: " + r.stderr().strip());
            } else if (!r.stdout().isBlank()) {
                leaks.add("OVS interface " + r.stdout().strip() + " (iface-id=" + port + ")");
            }
        }
    }

    private static void stateDir(Collection<UUID> instances, Path stateDir, List<String> leaks) {
        if (stateDir == null || !Files.isDirectory(stateDir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(stateDir)) {
            walk.filter(p -> instances.stream().anyMatch(u -> p.getFileName().toString().contains(u.toString())))
                    .forEach(p -> leaks.add("file " + p));
        } catch (IOException e) {
            throw new UncheckedIOException("leak check: cannot walk " + stateDir, e);
        }
    }
}
