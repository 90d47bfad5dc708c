package org.berth.driver.docker;

import com.github.dockerjava.api.model.Info;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
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
import org.berth.driver.api.VifSpec;

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
    private volatile Cgroups cgroups;

    ContainerStats(Engine engine, Path sys) {
        this.engine = engine;
        this.local = engine.settings().host().startsWith("unix://");
        this.remote = new EngineStats(engine);
        this.sys = sys;
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
                Cgroups.Figures f = cg.read(dirs.get());
                out.add(new InstanceStats(i.uuid(), i.powerState(), f.cpuTimeNs(), i.spec().flavor().vcpus(),
                        List.of(), f.memory(), vifs(i.spec().vifs()), disks(f.io())));
            } catch (NoSuchFileException e) {
                // its cgroup went away between the list and the read: absent, never an error; found anew next time
                cg.forget(i.backendId());
            } catch (IOException e) {
                throw new DriverException.BackendFailure(Engine.BACKEND, "stats", "reading the cgroup of container "
                        + i.backendId() + ": " + e.getMessage(), e);
            }
        }
        cg.retain(ids);
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
                    if (info.getDockerRootDir() != null) {
                        c.activateV1IoAccounting(Path.of(info.getDockerRootDir()));
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

    /**
     * The host end of each VIF's veth: what it transmitted the instance received, so rx and tx swap. A VIF whose
     * device is not there (no plugger, or unplugged meanwhile) is left out.
     */
    private List<InstanceStats.VifStats> vifs(List<VifSpec> vifs) throws IOException {
        List<InstanceStats.VifStats> out = new ArrayList<>(vifs.size());
        for (VifSpec v : vifs) {
            Path st = sys.resolve("class/net").resolve(v.devName()).resolve("statistics");
            try {
                out.add(new InstanceStats.VifStats(v.portId(), v.devName(),
                        counter(st, "tx_bytes"), counter(st, "tx_packets"), counter(st, "tx_dropped"),
                        counter(st, "tx_errors"),
                        counter(st, "rx_bytes"), counter(st, "rx_packets"), counter(st, "rx_dropped"),
                        counter(st, "rx_errors")));
            } catch (NoSuchFileException e) {
                // not plugged now
            }
        }
        return out;
    }

    private static long counter(Path statistics, String name) throws IOException {
        return Math.max(0, CgroupFiles.number(statistics.resolve(name)));
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
