package org.berth.agent.it;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.conformance.host.HostCommand;
import org.berth.conformance.leak.LeakCheck;

/** What the host itself says (docker, virsh, ovs-vsctl, ip), independent of the agent. */
final class Host {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final Pattern EXTERNAL_ID = Pattern.compile("\"?([\\w.-]+)\"?=\"?([^\",}]*)\"?");

    private Host() {
    }

    static HostCommand.Result run(String program, String... args) {
        String path = HostCommand.find(program).map(Path::toString).orElse(program);
        return HostCommand.run(TIMEOUT, path, args);
    }

    static String backendName(UUID uuid) {
        return "berth-" + uuid;
    }

    static String tapOf(String portId) {
        return "tap" + portId.substring(0, 11);
    }

    /** The OVS Interface with {@code external_ids:iface-id=portId}: its name and external_ids, if there is one. */
    static Optional<Map<String, String>> ovsInterface(String portId) {
        HostCommand.Result r = run("ovs-vsctl", "--timeout=10", "--bare", "--columns=name", "find", "Interface",
                "external_ids:iface-id=" + portId);
        if (!r.ok()) {
            throw new IllegalStateException("ovs-vsctl find failed: " + r.stderr());
        }
        String name = r.stdout().strip();
        if (name.isEmpty()) {
            return Optional.empty();
        }
        HostCommand.Result ids = run("ovs-vsctl", "--timeout=10", "get", "Interface", name, "external_ids");
        Map<String, String> m = new LinkedHashMap<>();
        m.put("name", name);
        Matcher x = EXTERNAL_ID.matcher(ids.stdout().strip().replaceAll("^\\{|}$", ""));
        while (x.find()) {
            m.put(x.group(1), x.group(2));
        }
        return Optional.of(m);
    }

    /** Whether br-int has a port of this name (the port row, not only the Interface). */
    static boolean brIntHasPort(String name) {
        HostCommand.Result r = run("ovs-vsctl", "--timeout=10", "list-ports", "br-int");
        return r.ok() && r.stdout().lines().anyMatch(name::equals);
    }

    static boolean linkExists(String dev) {
        return run("ip", "link", "show", "dev", dev).ok();
    }

    static boolean containerExists(UUID uuid) {
        HostCommand.Result r = run("docker", "ps", "-a", "--filter", "name=^/" + backendName(uuid) + "$",
                "--format", "{{.Names}}");
        if (!r.ok()) {
            throw new IllegalStateException("docker ps failed: " + r.stderr());
        }
        return !r.stdout().isBlank();
    }

    /** virsh domstate of the instance's domain, or empty when libvirt has no such domain. */
    static Optional<String> domainState(UUID uuid) {
        HostCommand.Result r = run("virsh", "-c", "qemu:///system", "domstate", backendName(uuid));
        return r.ok() ? Optional.of(r.stdout().strip()) : Optional.empty();
    }

    /** docker exec ping from the container: true when one of three echo requests is answered. */
    static boolean containerPings(UUID container, String address) {
        return run("docker", "exec", backendName(container), "ping", "-c", "3", "-W", "2", address).ok();
    }

    /**
     * What the instances and ports left behind on the host (containers, domains, taps/veths, OVS interfaces and
     * files under the agent's instances_path); empty when clean.
     */
    static List<String> leftovers(Collection<UUID> instances, Collection<String> ports, Path instancesPath) {
        var out = new ArrayList<>(LeakCheck.leftovers(instances, ports, instancesPath));
        for (String port : ports) {
            if (brIntHasPort(tapOf(port))) {
                out.add("br-int port " + tapOf(port));
            }
        }
        return out;
    }

    /**
     * Last-resort cleanup when the agent could not destroy something (the test fails anyway): removes the
     * container, the domain, the OVS ports and devices directly.
     */
    static void forceRemove(Collection<UUID> instances, Collection<String> ports) {
        for (UUID uuid : instances) {
            run("docker", "rm", "-f", "-v", backendName(uuid));
            run("virsh", "-c", "qemu:///system", "destroy", backendName(uuid));
            run("virsh", "-c", "qemu:///system", "undefine", backendName(uuid), "--nvram");
        }
        for (String port : ports) {
            run("ovs-vsctl", "--timeout=10", "--if-exists", "del-port", "br-int", tapOf(port));
            run("ip", "link", "del", tapOf(port));
        }
    }
}
