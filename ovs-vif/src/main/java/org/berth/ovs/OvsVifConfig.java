package org.berth.ovs;

import org.berth.ovs.ovsdb.OvsdbEndpoint;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * How {@link OvsVifPlugger} reaches OVS.
 *
 * @param ovsdb          ovsdb-server endpoint, {@code unix:/var/run/openvswitch/db.sock} or {@code tcp:HOST:PORT}
 * @param datapath       datapath of bridges Berth creates; {@link Datapath#AUTO} picks netdev without the kernel module
 * @param createBridges  whether a missing bridge is created (as os-vif does); if false, plugging into it fails
 * @param rpcTimeout     bound of each OVSDB call
 * @param ofportTimeout  how long ovs-vswitchd may take to attach a new interface
 * @param commandTimeout bound of each iproute2/nsenter process
 * @param vethOffloads   whether a container's veth pair keeps its TX checksum/TSO/GSO offloads; off for the netdev
 *                       datapath by default, whose userspace checksum handling of OVS 3.1 breaks TCP over veths
 *                       (partial checksums; ping works, TCP does not). Whatever this says, a plug into a bridge
 *                       whose {@code datapath_type} the switch reports as netdev turns them off
 * @param reaperJournal  where the device reaper notes devices still to delete ({@value #DEFAULT_REAPER_JOURNAL}; two
 *                       agents on one machine need one each)
 */
public record OvsVifConfig(String ovsdb, Datapath datapath, boolean createBridges, Duration rpcTimeout,
                           Duration ofportTimeout, Duration commandTimeout, boolean vethOffloads, Path reaperJournal) {
    /** On tmpfs: a reboot clears it with the links it names. */
    public static final String DEFAULT_REAPER_JOURNAL = "/run/berth/vif-reaper";

    /** OVS {@code datapath_type}. */
    public enum Datapath {
        SYSTEM, NETDEV, AUTO;

        /** The OVS value: {@code system} or {@code netdev}; AUTO looks for {@code /sys/module/openvswitch}. */
        public String ovsValue() {
            return switch (this) {
                case SYSTEM -> "system";
                case NETDEV -> "netdev";
                case AUTO -> Files.isDirectory(Path.of("/sys/module/openvswitch")) ? "system" : "netdev";
            };
        }

        public static Datapath parse(String text) {
            try {
                return valueOf(text.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException | NullPointerException e) {
                throw new IllegalArgumentException("ovs.datapath: '" + text + "' must be system, netdev or auto");
            }
        }
    }

    public OvsVifConfig {
        OvsdbEndpoint.parse(ovsdb);
        if (datapath == null) {
            throw new IllegalArgumentException("ovs.datapath must be set (system, netdev or auto)");
        }
        positive(rpcTimeout, "ovs.rpc_timeout");
        positive(ofportTimeout, "ovs.ofport_timeout");
        positive(commandTimeout, "ovs.command_timeout");
        if (reaperJournal == null) {
            throw new IllegalArgumentException("ovs.reaper_journal must be set (a directory)");
        }
    }

    /** The veth offloads and reaper journal by default: offloads off on the netdev datapath, the shared journal. */
    public OvsVifConfig(String ovsdb, Datapath datapath, boolean createBridges, Duration rpcTimeout,
                        Duration ofportTimeout, Duration commandTimeout) {
        this(ovsdb, datapath, createBridges, rpcTimeout, ofportTimeout, commandTimeout,
                datapath == null || defaultVethOffloads(datapath), Path.of(DEFAULT_REAPER_JOURNAL));
    }

    /** Offloads stay on unless {@code datapath} resolves to netdev (userspace). */
    public static boolean defaultVethOffloads(Datapath datapath) {
        return !"netdev".equals(datapath.ovsValue());
    }

    /** The local socket, datapath auto, no bridge creation, 10 s per OVSDB call and per command, 10 s for ofport. */
    public static OvsVifConfig defaults() {
        return new OvsVifConfig(OvsdbEndpoint.DEFAULT, Datapath.AUTO, false, Duration.ofSeconds(10),
                Duration.ofSeconds(10), Duration.ofSeconds(10));
    }

    public OvsVifConfig withOvsdb(String endpoint) {
        return new OvsVifConfig(endpoint, datapath, createBridges, rpcTimeout, ofportTimeout, commandTimeout,
                vethOffloads, reaperJournal);
    }

    public OvsVifConfig withCreateBridges(boolean create) {
        return new OvsVifConfig(ovsdb, datapath, create, rpcTimeout, ofportTimeout, commandTimeout, vethOffloads,
                reaperJournal);
    }

    public OvsVifConfig withVethOffloads(boolean keep) {
        return new OvsVifConfig(ovsdb, datapath, createBridges, rpcTimeout, ofportTimeout, commandTimeout, keep,
                reaperJournal);
    }

    public OvsVifConfig withReaperJournal(Path journal) {
        return new OvsVifConfig(ovsdb, datapath, createBridges, rpcTimeout, ofportTimeout, commandTimeout,
                vethOffloads, journal);
    }

    private static void positive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be a positive duration, got " + d);
        }
    }
}
