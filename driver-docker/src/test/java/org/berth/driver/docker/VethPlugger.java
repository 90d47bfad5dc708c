package org.berth.driver.docker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;
import org.berth.lab.Cmd;

/**
 * Test peer: real veth pairs on a test-made Linux bridge (no OVS), made with iproute2 argument arrays. IPv6 is off
 * on both ends, so only the test's own traffic (IPv4 in 198.18.0.0/15) crosses them and the counters add up.
 */
final class VethPlugger implements VifPlugger {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final String bridge;
    /** Port id → the container-side address, e.g. 198.18.77.2/24. */
    private final Map<String, String> addresses;

    VethPlugger(String bridge, Map<String, String> addresses) {
        this.bridge = bridge;
        this.addresses = addresses;
    }

    static boolean exists(String dev) {
        return Files.exists(Path.of("/sys/class/net", dev));
    }

    static void run(String... argv) {
        Cmd.run(TIMEOUT, List.of(argv)).orThrow();
    }

    /** Turns IPv6 off on a host link before it goes up: no router solicitations or MLD reports in the counters. */
    static void noIpv6(String dev) {
        try {
            Files.writeString(Path.of("/proc/sys/net/ipv6/conf", dev, "disable_ipv6"), "1");
        } catch (IOException e) {
            throw new IllegalStateException("disable IPv6 on " + dev + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String plugTap(UUID instance, VifSpec vif) {
        throw new UnsupportedOperationException("containers never plug a tap");
    }

    @Override
    public void plugNamespace(UUID instance, VifSpec vif, long pid, String ifName) {
        String dev = vif.devName();
        String peer = vif.nsDevName();
        try {
            if (exists(dev)) {
                run("ip", "link", "del", "dev", dev); // the old pair of a restart's previous namespace
            }
            run("ip", "link", "add", "dev", dev, "type", "veth", "peer", "name", peer);
            noIpv6(dev);
            run("ip", "link", "set", "dev", peer, "netns", Long.toString(pid));
            List<String> ns = List.of("nsenter", "-t", Long.toString(pid), "-n");
            inNs(ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1");
            inNs(ns, "ip", "link", "set", "dev", peer, "name", ifName, "address", vif.mac());
            inNs(ns, "ip", "addr", "add", addresses.get(vif.portId()), "dev", ifName);
            inNs(ns, "ip", "link", "set", "dev", ifName, "up");
            run("ip", "link", "set", "dev", dev, "master", bridge, "up");
        } catch (RuntimeException e) {
            throw new DriverException.VifFailure(vif.portId(), e.getMessage(), e);
        }
    }

    private static void inNs(List<String> ns, String... argv) {
        List<String> all = new ArrayList<>(ns);
        all.addAll(List.of(argv));
        Cmd.run(TIMEOUT, all).orThrow();
    }

    @Override
    public void awaitAttached(UUID instance, VifSpec vif) {
        if (!exists(vif.devName())) {
            throw new DriverException.VifFailure(vif.portId(), vif.devName() + " is not plugged", null);
        }
    }

    @Override
    public void unplug(UUID instance, VifSpec vif) {
        var r = Cmd.run(TIMEOUT, List.of("ip", "link", "del", "dev", vif.devName()));
        if (!r.ok() && exists(vif.devName())) { // gone meanwhile with the container's namespace is fine
            r.orThrow();
        }
    }
}
