package org.berth.ovs.link;

import org.berth.driver.api.IpAddress;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Host and namespace links through iproute2. Host-side state is read from sysfs (no fork); several changes
 * inside a namespace go to one {@code nsenter … ip -batch -} so a container NIC costs one process.
 */
public final class Links {
    private static final int IFF_UP = 0x1;
    private final Commands commands;

    public Links(Commands commands) {
        this.commands = commands;
    }

    /** Whether the host (this process's network namespace) has a link named {@code dev}. */
    public boolean exists(String dev) {
        return Files.exists(Path.of("/sys/class/net", dev));
    }

    /** {@code ip tuntap add dev DEV mode tap} then MTU and up, as a hypervisor expects an unmanaged tap. */
    public void addTap(String dev, int mtu) {
        batch(List.of("tuntap add dev " + dev + " mode tap", "link set dev " + dev + " mtu " + mtu + " up"));
    }

    /** Sets MTU and up on an existing host link; no process when sysfs shows it up with that MTU already. */
    public void setUp(String dev, int mtu) {
        if (isUpWithMtu(dev, mtu)) {
            return;
        }
        commands.run(List.of("ip", "link", "set", "dev", dev, "mtu", Integer.toString(mtu), "up"));
    }

    /** Whether host link {@code dev} is administratively up (IFF_UP in sysfs flags) with MTU {@code mtu}. */
    boolean isUpWithMtu(String dev, int mtu) {
        Path dir = Path.of("/sys/class/net", dev);
        try {
            int flags = Integer.decode(Files.readString(dir.resolve("flags")).strip());
            return (flags & IFF_UP) != 0 && Integer.parseInt(Files.readString(dir.resolve("mtu")).strip()) == mtu;
        } catch (java.io.IOException | NumberFormatException e) {
            return false; // gone or unreadable: let ip(8) set it, or say why it cannot
        }
    }

    /** A veth pair {@code hostDev}/{@code peerDev} with {@code mtu}; the host end is up, the peer moves to {@code pid}'s netns. */
    public void addVethInto(String hostDev, String peerDev, int mtu, long pid) {
        batch(List.of("link add " + hostDev + " mtu " + mtu + " type veth peer name " + peerDev + " mtu " + mtu,
                "link set dev " + hostDev + " up",
                "link set dev " + peerDev + " netns " + pid));
    }

    /**
     * Turns off TX checksum offload, TSO and GSO of both ends of a veth pair: host link {@code hostDev} and link
     * {@code peerDev} in the network namespace of {@code pid}. OVS 3.1's userspace datapath forwards the partial
     * checksums a veth leaves to its peer unfinished, so TCP breaks (ping does not). Two short processes (running
     * them at once saved nothing measurable on two CPUs).
     */
    public void disableTxOffloads(String hostDev, long pid, String peerDev) {
        commands.run(ethtoolTxOff(hostDev));
        commands.run(nsenter(pid, ethtoolTxOff(peerDev).toArray(String[]::new)));
    }

    private static List<String> ethtoolTxOff(String dev) {
        return List.of("ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off");
    }

    /**
     * Several host-side changes in one {@code ip -batch -} process; it stops at the first failing line.
     * Every token comes from validated values (device names, MAC, MTU, pid, literal addresses): no quoting needed.
     */
    private void batch(List<String> lines) {
        commands.run(List.of("ip", "-batch", "-"), String.join("\n", lines) + "\n");
    }

    /** Deletes a host link (for a veth, both ends); false if it was not there. */
    public boolean delete(String dev) {
        if (!exists(dev)) {
            return false;
        }
        Commands.Result r = commands.tryRun(List.of("ip", "link", "del", "dev", dev), null);
        if (r.exitCode() != 0 && exists(dev)) {
            throw new CommandFailed(List.of("ip", "link", "del", "dev", dev),
                    "failed (exit " + r.exitCode() + "): " + r.stderr().strip(), false, null);
        }
        return true;
    }

    /** Whether the network namespace of {@code pid} has a link {@code ifName} with address {@code mac}. */
    public boolean existsIn(long pid, String ifName, String mac) {
        Commands.Result r = commands.tryRun(nsenter(pid, "ip", "-o", "link", "show", "dev", ifName), null);
        return r.exitCode() == 0 && r.stdout().contains("link/ether " + mac);
    }

    /**
     * Inside {@code pid}'s network namespace: renames {@code dev} to {@code ifName}, sets MAC and MTU, adds the
     * addresses, brings it up and sets the default route. One process for all of it.
     */
    public void configureIn(long pid, String dev, String ifName, String mac, int mtu, List<IpAddress> ips,
                            InetAddress gateway) {
        List<String> batch = new ArrayList<>();
        batch.add("link set dev " + dev + " name " + ifName + " address " + mac + " mtu " + mtu);
        for (IpAddress ip : ips) {
            batch.add("address replace " + ip + " dev " + ifName);
        }
        batch.add("link set dev " + ifName + " up");
        if (gateway != null) {
            // iproute2 takes the family from the gateway address.
            batch.add("route replace default via "
                    + gateway.getHostAddress() + " dev " + ifName);
        }
        // Every token comes from validated values (device names, MAC, MTU, literal addresses): no quoting needed.
        commands.run(nsenter(pid, "ip", "-batch", "-"), String.join("\n", batch) + "\n");
    }

    /** Lines of {@code ip ARGS} run inside {@code pid}'s network namespace (for checks and diagnostics). */
    public String runIn(long pid, String... ipArgs) {
        List<String> args = new ArrayList<>(List.of(ipArgs));
        args.addFirst("ip");
        return commands.run(nsenter(pid, args.toArray(String[]::new)));
    }

    private static List<String> nsenter(long pid, String... argv) {
        List<String> cmd = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid), "-n"));
        cmd.addAll(List.of(argv));
        return cmd;
    }
}
