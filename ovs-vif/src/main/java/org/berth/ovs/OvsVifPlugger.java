package org.berth.ovs;

import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;
import org.berth.ovs.link.CommandFailed;
import org.berth.ovs.link.Commands;
import org.berth.ovs.link.LinkReaper;
import org.berth.ovs.link.Links;
import org.berth.ovs.ovsdb.OvsdbClient;
import org.berth.ovs.ovsdb.OvsdbEndpoint;
import org.berth.ovs.ovsdb.OvsdbException;
import org.berth.ovs.ovsdb.VswitchDb;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Berth's {@link VifPlugger}: OVS ports through a native OVSDB connection, links through iproute2. Names and
 * external_ids follow os-vif/Nova ({@code tap} + 11 characters of the port id; {@code iface-id},
 * {@code iface-status}, {@code attached-mac}, {@code vm-uuid}) so Neutron ML2/OVS and OVN bind the ports.
 * Thread-safe: calls for different ports run in parallel, calls for one port one after the other.
 *
 * <p>Plug returns once the port is committed to the database (about a millisecond); {@link #awaitAttached} waits
 * for ovs-vswitchd to attach the device (ofport set; several milliseconds of vswitchd reconfiguration), so a driver
 * overlaps that with the instance's start. Unplug returns once the port is gone from the database; the device is
 * deleted by a background {@link LinkReaper} (the kernel takes ~20 ms per link), which a plug of the same device
 * waits for and {@link #close()} drains.
 *
 * <p>For driver authors: call {@link #plugTap} before the domain starts (libvirt {@code <interface type='ethernet'>}
 * with {@code <target dev='tap…' managed='no'/>}); call {@link #plugNamespace} after the container has started,
 * with its pid, and again with the new pid after a container restart (the old veth died with the old namespace;
 * the call replaces it). {@link #unplug} on destroy, also for half-built instances. Errors:
 * {@link DriverException.VifFailure} (rolled back), {@link DriverException.BackendUnavailable} (ovsdb-server down),
 * {@link DriverException.OperationTimedOut} (ovsdb-server, vswitchd or iproute2 too slow).
 */
public final class OvsVifPlugger implements VifPlugger, AutoCloseable {
    private static final Pattern IF_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,14}");
    /** The Open_vSwitch key ovn-controller connects to the southbound database with: set on an OVN chassis. */
    static final String OVN_REMOTE = "ovn-remote";
    /** The Interface key ovn-controller sets once the port's flows are installed (Nova and Neutron wait for it). */
    static final String OVN_INSTALLED = "ovn-installed";

    private final OvsVifConfig config;
    private final OvsdbClient client;
    private final VswitchDb db;
    private final Links links;
    private final LinkReaper reaper;
    /** Bridges known to be on the userspace datapath (datapath_type netdev, read from the switch once each). */
    private final java.util.Set<String> userspaceBridges = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Striped locks: calls for one port are serialised, without a map that grows with every port ever seen. */
    private final Object[] portLocks = new Object[64];

    private OvsVifPlugger(OvsVifConfig config, OvsdbClient client) {
        this.config = config;
        this.client = client;
        this.db = new VswitchDb(client);
        this.links = new Links(new Commands(config.commandTimeout()));
        this.reaper = new LinkReaper(new Commands(config.commandTimeout()), config.reaperJournal());
        for (int i = 0; i < portLocks.length; i++) {
            portLocks[i] = new Object();
        }
    }

    /**
     * Connects to ovsdb-server; the connection is kept (and re-established after a drop) until {@link #close()}.
     *
     * @throws DriverException.BackendUnavailable if ovsdb-server cannot be reached within the RPC timeout
     */
    public static OvsVifPlugger connect(OvsVifConfig config) {
        try {
            OvsdbClient client = OvsdbClient.connect(OvsdbEndpoint.parse(config.ovsdb()),
                    OvsdbClient.Options.defaults().withCallTimeout(config.rpcTimeout()));
            return new OvsVifPlugger(config, client);
        } catch (OvsdbException e) {
            throw new DriverException.BackendUnavailable("ovsdb-server", e.getMessage(), e);
        }
    }

    @Override
    public String plugTap(UUID instance, VifSpec vif) {
        String dev = vif.devName();
        synchronized (lockFor(vif)) {
            Rollback undo = new Rollback();
            try {
                awaitReaped(dev);
                VswitchDb.PortSpec spec = portSpec(instance, vif, dev);
                Optional<VswitchDb.InterfaceRow> existing = db.findInterface(dev);
                if (isPlugged(existing, spec) && links.exists(dev)) {
                    return dev;
                }
                if (links.exists(dev)) {
                    links.setUp(dev, vif.mtu());
                } else {
                    existing = dropStalePort(existing);
                    undo.add(() -> links.delete(dev));
                    links.addTap(dev, vif.mtu());
                }
                addOrUpdatePort(spec, existing, undo);
                return dev;
            } catch (RuntimeException e) {
                undo.run(e);
                throw translate(vif, "plug tap " + dev, e);
            }
        }
    }

    @Override
    public void plugNamespace(UUID instance, VifSpec vif, long pid, String ifName) {
        if (pid <= 0) {
            throw new DriverException.VifFailure(vif.portId(), "pid " + pid + " is not a process id", null);
        }
        if (ifName == null || !IF_NAME.matcher(ifName).matches()) {
            throw new DriverException.VifFailure(vif.portId(), "interface name '" + ifName
                    + "' must be 1-15 letters, digits, '_', '.', '-'", null);
        }
        String dev = vif.devName();
        synchronized (lockFor(vif)) {
            Rollback undo = new Rollback();
            try {
                awaitReaped(dev);
                VswitchDb.PortSpec spec = portSpec(instance, vif, dev);
                Optional<VswitchDb.InterfaceRow> existing = db.findInterface(dev);
                if (isPlugged(existing, spec) && links.exists(dev) && links.existsIn(pid, ifName, vif.mac())) {
                    return;
                }
                // A host end without its peer in this pid's namespace is left from an earlier container (a restart
                // gives a new pid): replace device and port, so vswitchd attaches the new device afresh.
                links.delete(dev);
                existing = dropStalePort(existing);
                undo.add(() -> links.delete(dev));
                links.addVethInto(dev, vif.nsDevName(), vif.mtu(), pid);
                if (!config.vethOffloads() || userspaceBridge(vif.bridge())) {
                    links.disableTxOffloads(dev, pid, vif.nsDevName());
                }
                addOrUpdatePort(spec, existing, undo);
                links.configureIn(pid, vif.nsDevName(), ifName, vif.mac(), vif.mtu(), vif.ips(),
                        vif.gateway().orElse(null));
            } catch (RuntimeException e) {
                undo.run(e);
                throw translate(vif, "plug " + dev + " into the network namespace of pid " + pid, e);
            }
        }
    }

    /**
     * Whether {@code bridge} runs on the userspace datapath, as the switch says (not as this host's kernel modules
     * suggest: a namespace's vswitchd may run netdev bridges on a host that has the kernel module). A bridge seen
     * as netdev is remembered; one not yet there or on the kernel datapath is asked again at its next plug.
     */
    private boolean userspaceBridge(String bridge) {
        if (userspaceBridges.contains(bridge)) {
            return true;
        }
        if (db.bridgeDatapathType(bridge).filter("netdev"::equals).isPresent()) {
            userspaceBridges.add(bridge);
            return true;
        }
        return false;
    }

    /** Waits for ovs-vswitchd to give the Interface an ofport (a server-side OVSDB {@code wait}, no polling). */
    @Override
    public void awaitAttached(UUID instance, VifSpec vif) {
        String dev = vif.devName();
        try {
            db.waitForOfport(dev, config.ofportTimeout());
        } catch (OvsdbException e) {
            if (e.kind() != OvsdbException.Kind.TIMEOUT) {
                throw translate(vif, "attach " + dev, e);
            }
            // vswitchd too slow (the server-side wait ran out) or ovsdb-server not answering: at most both bounds
            throw new DriverException.OperationTimedOut("attach " + dev + " (vif " + vif.portId() + ")",
                    config.ofportTimeout().plus(config.rpcTimeout()), e.getMessage());
        } catch (RuntimeException e) {
            throw translate(vif, "attach " + dev, e);
        }
    }

    /**
     * Whether ovn-controller is configured on this switch ({@code external_ids:ovn-remote} on the Open_vSwitch row),
     * i.e. the host is an OVN chassis and ports are bound by OVN. One OVSDB call; not cached (it may be set later).
     */
    public boolean isOvnChassis() {
        try {
            return db.switchExternalIds().containsKey(OVN_REMOTE);
        } catch (OvsdbException e) {
            throw translateOvsdb(e, "read the Open_vSwitch row's external_ids");
        }
    }

    /**
     * Waits until ovn-controller has bound the plugged VIF ({@code external_ids:ovn-installed=true} on its
     * Interface: the port's flows are in), with a server-side OVSDB {@code wait}; returns at once for a bound one.
     *
     * @return how long the wait took
     * @throws DriverException.OperationTimedOut if ovn-controller did not set ovn-installed within {@code timeout}
     *                                           (the message names the device and the iface-id)
     * @throws DriverException.VifFailure        if the VIF is not plugged
     */
    public Duration awaitBound(VifSpec vif, Duration timeout) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("awaitBound: timeout must be positive, got " + timeout);
        }
        String dev = vif.devName();
        long t0 = System.nanoTime();
        try {
            db.waitForExternalId(dev, OVN_INSTALLED, "true", timeout);
            return Duration.ofNanos(System.nanoTime() - t0);
        } catch (OvsdbException e) {
            if (e.kind() != OvsdbException.Kind.TIMEOUT) {
                throw translate(vif, "wait for OVN to bind " + dev, e);
            }
            if (!interfaceExists(dev)) {
                throw new DriverException.VifFailure(vif.portId(), "wait for OVN to bind " + dev
                        + ": interface " + dev + " does not exist (not plugged)", e);
            }
            throw new DriverException.OperationTimedOut("OVN binding of port " + vif.portId() + " on " + dev,
                    timeout, "ovn-controller never set external_ids:" + OVN_INSTALLED + "=true on Interface " + dev
                    + " (iface-id " + vif.portId() + ")");
        } catch (RuntimeException e) {
            throw translate(vif, "wait for OVN to bind " + dev, e);
        }
    }

    /** For a failed wait's message: true also when ovsdb-server cannot say (the timeout is what to report then). */
    private boolean interfaceExists(String dev) {
        try {
            return db.findInterface(dev).isPresent();
        } catch (OvsdbException e) {
            return true;
        }
    }

    /** Removes the port from the database, then hands the device to the reaper. */
    @Override
    public void unplug(UUID instance, VifSpec vif) {
        String dev = vif.devName();
        synchronized (lockFor(vif)) {
            try {
                db.deletePort(dev);
                reaper.delete(dev);
            } catch (RuntimeException e) {
                throw translate(vif, "unplug " + dev, e);
            }
        }
    }

    /** Devices unplugged whose deletion is still under way (empty when the host has caught up). */
    public List<String> devicesBeingDeleted() {
        return reaper.pending();
    }

    /**
     * Waits until every unplugged device is gone from the host.
     *
     * @return false if some were still there after {@code timeout}
     */
    public boolean awaitDevicesDeleted(Duration timeout) {
        return reaper.drain(timeout);
    }

    /**
     * A device the reaper still holds is taken back (then reused or replaced like any existing device), or, when it
     * is being deleted right now, waited for.
     */
    private void awaitReaped(String dev) {
        if (!reaper.reclaim(dev, config.commandTimeout())) {
            throw new DriverException.OperationTimedOut("wait for the deletion of the previous " + dev,
                    config.commandTimeout(), "the link is still being deleted");
        }
    }

    /** Host devices of the OVS ports plugged for {@code instance} (by {@code vm-uuid}), e.g. to find leftovers. */
    public List<String> devicesOf(UUID instance) {
        try {
            return db.findInterfaces("vm-uuid", instance.toString()).stream().map(VswitchDb.InterfaceRow::name).toList();
        } catch (OvsdbException e) {
            throw translateOvsdb(e, "list ports of instance " + instance);
        }
    }

    VswitchDb db() {
        return db;
    }

    OvsdbClient client() {
        return client;
    }

    private Object lockFor(VifSpec vif) {
        return portLocks[Math.floorMod(vif.portId().hashCode(), portLocks.length)];
    }

    private static VswitchDb.PortSpec portSpec(UUID instance, VifSpec vif, String dev) {
        Map<String, String> ids = new LinkedHashMap<>();
        ids.put("iface-id", vif.portId());
        ids.put("iface-status", "active");
        ids.put("attached-mac", vif.mac());
        ids.put("vm-uuid", instance.toString());
        return new VswitchDb.PortSpec(vif.bridge(), dev, ids, vif.vlan(), OptionalInt.of(vif.mtu()));
    }

    /**
     * In place with Berth's keys: attached, or committed and not yet attached (ofport unset; a repeated plug before
     * vswitchd got to it must not replace it); a failed attach (ofport -1) is not. Keys others add (OVN's
     * {@code ovn-installed}) do not make it a different port.
     */
    private static boolean isPlugged(Optional<VswitchDb.InterfaceRow> row, VswitchDb.PortSpec spec) {
        return row.isPresent() && row.get().ofport() >= 0
                && row.get().externalIds().entrySet().containsAll(spec.externalIds().entrySet());
    }

    /**
     * An OVS port whose device is gone (container restarted, host rebooted: the database outlives devices) points
     * vswitchd at nothing (ofport -1 or stale); it is removed so the new device gets a fresh attach.
     */
    private Optional<VswitchDb.InterfaceRow> dropStalePort(Optional<VswitchDb.InterfaceRow> existing) {
        existing.ifPresent(row -> db.deletePort(row.name()));
        return Optional.empty();
    }

    private void addOrUpdatePort(VswitchDb.PortSpec spec, Optional<VswitchDb.InterfaceRow> existing, Rollback undo) {
        if (existing.isPresent()) {
            db.updatePort(spec);
            return;
        }
        if (config.createBridges()) {
            db.ensureBridge(spec.bridge(), config.datapath().ovsValue());
        }
        undo.add(() -> db.deletePort(spec.name()));
        db.addPort(spec);
    }

    private DriverException translate(VifSpec vif, String what, RuntimeException e) {
        return switch (e) {
            case DriverException d -> d;
            case OvsdbException o when o.kind() == OvsdbException.Kind.TIMEOUT ->
                    new DriverException.OperationTimedOut(what + " (vif " + vif.portId() + ")", config.rpcTimeout(),
                            o.getMessage());
            case OvsdbException o when o.kind() == OvsdbException.Kind.DISCONNECTED ->
                    new DriverException.BackendUnavailable("ovsdb-server", what + " (vif " + vif.portId() + "): "
                            + o.getMessage(), o);
            case CommandFailed c when c.timedOut() ->
                    new DriverException.OperationTimedOut(what + " (vif " + vif.portId() + ")",
                            config.commandTimeout(), c.getMessage());
            default -> new DriverException.VifFailure(vif.portId(), what + ": " + e.getMessage(), e);
        };
    }

    private DriverException translateOvsdb(OvsdbException e, String what) {
        return switch (e.kind()) {
            case TIMEOUT -> new DriverException.OperationTimedOut(what, config.rpcTimeout(), e.getMessage());
            case DISCONNECTED -> new DriverException.BackendUnavailable("ovsdb-server", e.getMessage(), e);
            default -> new DriverException.BackendFailure("ovsdb-server", what, e.getMessage(), e);
        };
    }

    /** Waits (bounded) until unplugged devices are deleted, then closes the OVSDB connection; plugged ports stay. */
    @Override
    public void close() {
        try {
            reaper.close(config.commandTimeout().multipliedBy(3));
        } finally {
            client.close();
        }
    }

    /** For logs: where this plugger talks to. */
    @Override
    public String toString() {
        return "OvsVifPlugger[" + config.ovsdb() + ", datapath " + config.datapath().ovsValue() + "]";
    }

}
