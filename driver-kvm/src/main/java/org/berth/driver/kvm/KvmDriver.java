package org.berth.driver.kvm;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.DriverInfo;
import org.berth.driver.api.HostResources;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageFormat;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.InstanceStream;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;
import org.berth.driver.api.VifSpec;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;
import org.w3c.dom.Element;

/** {@link ComputeDriver} on libvirt: persistent domains {@code berth-<uuid>} carrying their spec in metadata. */
final class KvmDriver implements ComputeDriver {
    private static final List<ImageFormat> FORMATS = List.of(new ImageFormat(DiskFormat.QCOW2, ContainerFormat.BARE),
            new ImageFormat(DiskFormat.RAW, ContainerFormat.BARE), new ImageFormat(DiskFormat.AKI, ContainerFormat.BARE));

    private final DriverInfo info;
    private final DriverContext context;
    private final LibvirtSession session;
    private final LifecycleEvents events;
    private final InstanceFiles files;
    private final BaseImages bases;
    private final Domains domains;
    private final PowerControl power;
    private final Snapshots snapshots;
    private final Hotplug hotplug;
    private final StatsReader statsReader;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Open console streams: closed with the driver so that no reader thread outlives it. */
    private final Set<ConsoleStream> consoles = ConcurrentHashMap.newKeySet();

    private KvmDriver(KvmConfig config, DriverContext context, String version, boolean withEvents,
                      boolean withConsole) {
        this.context = context;
        this.events = withEvents ? new LifecycleEvents(context.events()) : null;
        this.session = new LibvirtSession(config.uri(), config.callTimeout(), c -> {
            if (events != null) {
                events.register(c);
            }
        }, e -> config.embedRoot().map(root -> EmbedRoot.connectFailure(root, e))
                .orElseGet(() -> "cannot connect to " + config.uri() + ": "
                        + (e.getError() == null ? e : e.getError().getMessage())));
        QemuImg qemuImg = new QemuImg(config.callTimeout());
        this.bases = new BaseImages(context.stateDir(), context.images());
        ConfigDrive drive = new ConfigDrive(config.configDrive(), config.mkisofsCmd(), config.callTimeout(), version);
        this.files = new InstanceFiles(context.stateDir(), context.images(), bases, qemuImg, drive);
        this.domains = new Domains(session, files, config, context);
        this.power = new PowerControl(domains, config);
        this.snapshots = new Snapshots(domains, context.images(), qemuImg, context.stateDir());
        this.hotplug = new Hotplug(domains);
        this.statsReader = new StatsReader(context::owns);
        Set<Capability> caps = EnumSet.of(Capability.SOFT_REBOOT, Capability.PAUSE, Capability.SUSPEND,
                Capability.CONSOLE_LOG, Capability.SNAPSHOT, Capability.INSTANCE_STATS);
        if (context.vifPlugger().isPresent()) {
            caps.add(Capability.INTERFACE_HOTPLUG);
        }
        if (withEvents) {
            caps.add(Capability.LIFECYCLE_EVENTS);
        }
        if (withConsole) {
            caps.add(Capability.CONSOLE);
        }
        this.info = new DriverInfo(KvmDriverProvider.NAME, version, config.virtType().hypervisorType(), caps, FORMATS);
    }

    /**
     * Opens the driver. With an embedded-driver uri the root is created (0755) if missing and libvirt's event loop
     * runs before the connection opens whatever {@code events} says: the embedded driver watches its QEMU monitors
     * on that loop. The loop also runs without {@code events}: console streams are non-blocking and need it to move
     * their data (without it the driver works, without CONSOLE). QEMU's user (from the capabilities' DAC label) must
     * reach the state directory and the root.
     */
    static KvmDriver open(KvmConfig config, DriverContext context, String version) {
        boolean embedded = config.embedRoot().isPresent();
        config.embedRoot().ifPresent(EmbedRoot::prepare);
        boolean loop = false;
        try {
            LifecycleEvents.startLoop();
            loop = true;
        } catch (LibvirtException | RuntimeException | LinkageError e) {
            if (embedded) {
                throw new DriverException.BackendUnavailable(LibvirtSession.BACKEND, "the embedded QEMU driver "
                        + "needs libvirt's event loop, which did not start: " + e, e);
            }
            // no event loop: the driver works, without LIFECYCLE_EVENTS and CONSOLE
        }
        KvmDriver driver = new KvmDriver(config, context, version, loop && config.events(), loop);
        try {
            driver.session.call("connect", null, c -> c.getLibVersion());
            String caps = driver.session.call("read capabilities", null, c -> c.getCapabilities());
            QemuAccess.dacLabel(caps, config.virtType().domainType()).ifPresent(label -> {
                QemuAccess.Identity qemu = QemuAccess.identity(label[0], label[1], Path.of("/etc/passwd"),
                        Path.of("/etc/group"));
                QemuAccess.check(context.stateDir(), qemu);
                config.embedRoot().ifPresent(root -> QemuAccess.check(root, qemu));
            });
        } catch (RuntimeException e) {
            driver.close();
            throw e;
        }
        return driver;
    }

    @Override
    public DriverInfo describe() {
        return info;
    }

    @Override
    public InstanceInfo spawn(InstanceSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException("spec: must be given");
        }
        UUID uuid = spec.uuid();
        boolean exists = session.call("spawn", uuid, c -> Domains.lookupOrNull(c, uuid) != null);
        if (exists) {
            throw new DriverException.InstanceExists(uuid);
        }
        statsReader.forget(uuid); // whatever a domain of this uuid was before, it is ours now
        try {
            files.delete(uuid); // a leftover of a lost instance is not reused
            DomainXml.Layout layout = files.prepare(spec);
            domains.define(spec, layout);
            if (spec.powerOn()) {
                domains.start("spawn", spec);
            }
            return domains.info(uuid);
        } catch (RuntimeException e) {
            try {
                removeEverything(uuid, spec);
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    @Override
    public void destroy(UUID uuid) {
        requireUuid(uuid);
        removeEverything(uuid, null);
    }

    private void removeEverything(UUID uuid, InstanceSpec known) {
        InstanceSpec spec = domains.forceOff("destroy", uuid).orElse(known);
        session.call("destroy", uuid, c -> {
            Domain d = Domains.lookupOrNull(c, uuid);
            if (d != null) {
                d.undefine(org.libvirt.Domain.UndefineFlags.MANAGED_SAVE
                        | org.libvirt.Domain.UndefineFlags.SNAPSHOTS_METADATA);
            }
            return null;
        });
        if (spec == null) {
            spec = files.storedSpec(uuid).orElse(null);
        }
        if (spec != null) {
            domains.unplugAll(uuid, spec.vifs());
        }
        files.delete(uuid);
        statsReader.forget(uuid);
    }

    @Override
    public void replugVifs(UUID uuid) {
        InstanceInfo now = domains.info(requireUuid(uuid));
        if (now.powerState() == PowerState.RUNNING) {
            domains.plugAll(uuid, now.spec().vifs()); // plugTap keeps a tap and port in place, re-adds lost ones
        }
    }

    @Override
    public void powerOff(UUID uuid, Duration timeout) {
        power.powerOff(requireUuid(uuid), timeout);
    }

    @Override
    public void powerOn(UUID uuid) {
        power.powerOn(requireUuid(uuid));
    }

    @Override
    public void reboot(UUID uuid, RebootType type) {
        power.reboot(requireUuid(uuid), type);
    }

    @Override
    public void pause(UUID uuid) {
        power.pause(requireUuid(uuid));
    }

    @Override
    public void unpause(UUID uuid) {
        power.unpause(requireUuid(uuid));
    }

    @Override
    public void suspend(UUID uuid) {
        power.suspend(requireUuid(uuid));
    }

    @Override
    public void resume(UUID uuid) {
        power.resume(requireUuid(uuid));
    }

    @Override
    public InstanceInfo info(UUID uuid) {
        return domains.info(requireUuid(uuid));
    }

    @Override
    public List<InstanceInfo> list() {
        return listAll(true);
    }

    /** Berth's domains on the host: this context's owner's only, or ({@code mine} false) everyone's. */
    private List<InstanceInfo> listAll(boolean mine) {
        return session.call("list instances", null, c -> {
            Set<String> names = new LinkedHashSet<>();
            for (int id : c.listDomains()) {
                try {
                    names.add(c.domainLookupByID(id).getName());
                } catch (LibvirtException e) {
                    // gone between listing and lookup
                }
            }
            names.addAll(List.of(c.listDefinedDomains()));
            List<InstanceInfo> result = new ArrayList<>();
            for (String name : names) {
                if (!name.startsWith("berth-")) {
                    continue;
                }
                try {
                    UUID uuid = UUID.fromString(name.substring("berth-".length()));
                    Domain d = c.domainLookupByName(name);
                    Element meta = SpecXml.root(d.getXMLDesc(Domains.XML_INACTIVE)).orElse(null);
                    if (meta == null || mine && !context.owns(SpecXml.owner(meta))) {
                        continue; // not Berth's, or another Berth user's (a conformance run beside the agent)
                    }
                    InstanceSpec spec = SpecXml.read(meta);
                    if (spec.uuid().equals(uuid)) {
                        result.add(new InstanceInfo(uuid, PowerStates.of(d), spec, name));
                    }
                } catch (LibvirtException | IllegalArgumentException e) {
                    // undefined meanwhile, or not one of Berth's
                }
            }
            return result;
        });
    }

    @Override
    public byte[] consoleLog(UUID uuid, int maxBytes) {
        requireUuid(uuid);
        if (maxBytes < 1 || maxBytes > ConsoleTail.MAX_BYTES) {
            throw new IllegalArgumentException("max_bytes: " + maxBytes + " must be between 1 and " + ConsoleTail.MAX_BYTES);
        }
        domains.state("read console log", uuid); // InstanceNotFound for an unknown instance
        return ConsoleTail.read(files.consoleLog(uuid), maxBytes);
    }

    /**
     * The serial console of a RUNNING instance through libvirt's console stream. libvirt allows one session per
     * console: a second open while one is open fails (BackendFailure) until the first is closed.
     */
    @Override
    public InstanceStream openConsole(UUID uuid) {
        if (!info.has(Capability.CONSOLE)) {
            throw new DriverException.CapabilityMissing(KvmDriverProvider.NAME, Capability.CONSOLE);
        }
        return ConsoleStream.open(session, requireUuid(uuid), consoles);
    }

    @Override
    public Image snapshot(UUID uuid, String imageName) {
        return snapshots.snapshot(requireUuid(uuid), imageName);
    }

    @Override
    public void attachInterface(UUID uuid, VifSpec vif) {
        if (!info.has(Capability.INTERFACE_HOTPLUG)) {
            throw new DriverException.CapabilityMissing(KvmDriverProvider.NAME, Capability.INTERFACE_HOTPLUG);
        }
        hotplug.attach(requireUuid(uuid), vif);
        statsReader.forget(uuid); // the spec gained a VIF
    }

    @Override
    public void detachInterface(UUID uuid, String portId) {
        if (!info.has(Capability.INTERFACE_HOTPLUG)) {
            throw new DriverException.CapabilityMissing(KvmDriverProvider.NAME, Capability.INTERFACE_HOTPLUG);
        }
        hotplug.detach(requireUuid(uuid), portId);
        statsReader.forget(uuid);
    }

    /**
     * The counters of every instance of this driver's owner from one virConnectGetAllDomainStats call (see
     * {@link DomainStats} for which libvirt figure is which); an instance undefined meanwhile is absent. The first
     * sample after the driver opens (or after a spawn) also reads each new domain's definition once.
     */
    @Override
    public List<InstanceStats> stats() {
        String operation = "read instance stats";
        return session.call(operation, null, c -> {
            try {
                return statsReader.sample(c);
            } catch (BulkStats.LibvirtFailure e) {
                throw e.toDriverException(operation, c, session);
            }
        });
    }

    /** libvirt calls this driver's session made (tests count them). */
    long libvirtCalls() {
        return session.calls();
    }

    /** Domain definitions stats() read, beside its bulk calls (tests count them). */
    long statsLookups() {
        return statsReader.lookups();
    }

    @Override
    public HostResources resources() {
        HostProbe.Host host = session.call("read host resources", null, c -> HostProbe.read(c, context.stateDir()));
        int vcpus = 0;
        long memory = 0;
        long disk = 0;
        int running = 0;
        for (InstanceInfo i : listAll(false)) {
            var f = i.spec().flavor();
            vcpus += f.vcpus();
            memory += f.memoryMb();
            disk += f.rootGb() + f.ephemeralGb() + (f.swapMb() + 1023) / 1024;
            running += i.powerState() == PowerState.RUNNING ? 1 : 0;
        }
        return new HostResources(host.vcpus(), vcpus, host.memoryMb(), memory, host.localGb(), disk,
                info.hypervisorType(), host.version(), host.hostname(), host.cpu(), running);
    }

    /**
     * Deletes cached base images no instance uses and unused for at least {@code minAge} (Nova's
     * remove_unused_base_images). Never called implicitly.
     */
    List<String> removeUnusedBaseImages(Duration minAge) {
        return bases.removeUnused(files.basesInUse(), minAge);
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        List.copyOf(consoles).forEach(ConsoleStream::close);
        if (events != null) {
            try {
                Duration limit = session.timeout().compareTo(Duration.ofSeconds(5)) < 0 ? session.timeout() : Duration.ofSeconds(5);
                session.call("close", null, limit, c -> {
                    c.removeLifecycleListener(events);
                    return null;
                });
            } catch (RuntimeException ignored) {
                // closing anyway
            }
        }
        session.close();
    }

    private static UUID requireUuid(UUID uuid) {
        if (uuid == null) {
            throw new IllegalArgumentException("uuid: must be given");
        }
        return uuid;
    }
}
