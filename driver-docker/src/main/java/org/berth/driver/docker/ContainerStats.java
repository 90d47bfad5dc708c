package org.berth.driver.docker;

import com.github.dockerjava.api.model.Info;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.PowerState;

/**
 * {@code stats()} of the docker driver. A local engine's containers are read from their cgroup files and their
 * VIFs' host-side veth counters: one engine list call per sample (the caller's), then file reads only (plus one
 * inspect the first time a container's cgroup is not where the engine's cgroup driver puts it). A remote engine
 * (tcp) is asked its one-shot stats of each running container ({@link EngineStats}).
 */
final class ContainerStats {
    private final Engine engine;
    private final boolean local;
    private final EngineStats remote;
    private final Path sys;
    private final Map<String, String> deviceNames = new ConcurrentHashMap<>();
    private final VethCounters veths;
    private volatile Cgroups cgroups;

    ContainerStats(Engine engine, Path sys) {
        this.engine = engine;
        this.local = engine.settings().host().startsWith("unix://");
        this.remote = new EngineStats(engine);
        this.sys = sys;
        this.veths = new VethCounters(sys);
    }

    /** The figures of the listed instances; one that vanished while sampled is absent. */
    List<InstanceStats> sample(List<InstanceInfo> listed) {
        if (!local) {
            return remote.sample(listed);
        }
        Cgroups cg = cgroups();
        List<InstanceStats> out = new ArrayList<>(listed.size());
        Set<String> ids = new HashSet<>();
        for (InstanceInfo i : listed) {
            ids.add(i.backendId());
            if (!running(i.powerState())) {
                out.add(stopped(i));
                continue;
            }
            try {
                Optional<Cgroups.Dirs> dirs = cg.dirs(i.backendId(), () -> pid(i.backendId()));
                if (dirs.isEmpty()) {
                    continue; // stopped or removed since the list: absent from this sample
                }
                Optional<Cgroups.Figures> f = cg.tryRead(i.backendId(), dirs.get());
                if (f.isEmpty()) {
                    continue; // gone meanwhile, or its cgroup unreadable (logged): absent, the others stand
                }
                out.add(new InstanceStats(i.uuid(), i.powerState(), f.get().cpuTimeNs(), i.spec().flavor().vcpus(),
                        List.of(), f.get().memory(), veths.of(i.spec().vifs()), disks(f.get().io())));
            } catch (IOException e) {
                // only a cgroup mount that cannot be read comes here: no container's figures can be had
                throw new DriverException.BackendFailure(Engine.BACKEND, "stats", "reading the cgroup of container "
                        + i.backendId() + ": " + e.getMessage(), e);
            }
        }
        cg.retain(ids);
        veths.retain(listed);
        return out;
    }

    static boolean running(PowerState s) {
        return s == PowerState.RUNNING || s == PowerState.PAUSED;
    }

    /** A container not running has no cgroup: its state and zero CPU time, nothing else known. */
    static InstanceStats stopped(InstanceInfo i) {
        return new InstanceStats(i.uuid(), i.powerState(), 0, i.spec().flavor().vcpus(), List.of(),
                InstanceStats.Memory.NONE, List.of(), List.of());
    }

    private Cgroups cgroups() {
        Cgroups c = cgroups;
        if (c == null) {
            synchronized (this) {
                if (cgroups == null) {
                    Info info = engine.call("info", null, () -> engine.client().infoCmd().exec());
                    long memory = info.getMemTotal() == null ? 0 : info.getMemTotal();
                    try {
                        // docker-java's Info has no fields for these (API 1.40+): the raw values carry them
                        c = new Cgroups(String.valueOf(info.getRawValues().getOrDefault("CgroupVersion", "1")),
                                String.valueOf(info.getRawValues().getOrDefault("CgroupDriver", "cgroupfs")),
                                Path.of("/proc"), memory);
                    } catch (IOException e) {
                        throw new DriverException.BackendFailure(Engine.BACKEND, "stats", e.getMessage(), e);
                    }
                    if (info.getDockerRootDir() != null && engine.settings().blkioAccounting()) {
                        c.activateV1IoAccounting(Path.of(info.getDockerRootDir()), sys);
                    }
                    cgroups = c;
                }
                c = cgroups;
            }
        }
        return c;
    }

    /** The pid of the container's init, 0 when it is not running or gone. */
    private long pid(String containerId) {
        try {
            var c = engine.call("inspect", null, () -> engine.client().inspectContainerCmd(containerId).exec());
            Long pid = c.getState() == null ? null : c.getState().getPidLong();
            return pid == null ? 0 : pid;
        } catch (DriverException.BackendFailure e) {
            if (e.getCause() instanceof com.github.dockerjava.api.exception.NotFoundException) {
                return 0;
            }
            throw e;
        }
    }

    /** One entry per block device the cgroup did I/O on, named as the kernel names it ({@code vda}). */
    private List<InstanceStats.DiskStats> disks(List<CgroupFiles.Io> io) {
        List<InstanceStats.DiskStats> out = new ArrayList<>(io.size());
        for (CgroupFiles.Io d : io) {
            // capacity and allocation: the writable layer has no quota, and its size costs a walk of the layer
            out.add(new InstanceStats.DiskStats(deviceName(d.majMin()), d.readBytes(), d.readRequests(),
                    d.writeBytes(), d.writeRequests(), InstanceStats.UNKNOWN, InstanceStats.UNKNOWN));
        }
        return out;
    }

    private String deviceName(String majMin) {
        return deviceNames.computeIfAbsent(majMin, k -> {
            try {
                for (String line : CgroupFiles.read(sys.resolve("dev/block").resolve(k).resolve("uevent")).split("\n")) {
                    if (line.startsWith("DEVNAME=")) {
                        return line.substring("DEVNAME=".length()).trim();
                    }
                }
            } catch (IOException e) {
                // a device gone since: its numbers name it
            }
            return k;
        });
    }
}
