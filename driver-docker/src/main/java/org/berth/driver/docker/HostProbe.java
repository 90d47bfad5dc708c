package org.berth.driver.docker;

import com.github.dockerjava.api.model.Info;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.berth.driver.api.CpuInfo;
import org.berth.driver.api.HostResources;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.PowerState;

/** Host capacity from the engine's info and the host; usage from Berth's containers' flavors. */
final class HostProbe {
    private static final long GIB = 1L << 30;

    private final Engine engine;
    private final Path fallbackDir;

    HostProbe(Engine engine, Path fallbackDir) {
        this.engine = engine;
        this.fallbackDir = fallbackDir;
    }

    HostResources resources(List<InstanceInfo> instances) {
        Info info = engine.call("info", null, () -> engine.client().infoCmd().exec());
        int vcpusUsed = 0;
        long memUsed = 0;
        long diskUsed = 0;
        int running = 0;
        for (InstanceInfo i : instances) {
            vcpusUsed += i.spec().flavor().vcpus();
            memUsed += i.spec().flavor().memoryMb();
            diskUsed += i.spec().flavor().rootGb() + i.spec().flavor().ephemeralGb();
            running += i.powerState() == PowerState.RUNNING ? 1 : 0;
        }
        String hostname = info.getName() == null || info.getName().isBlank() ? "localhost" : info.getName();
        return new HostResources(Math.max(1, nullToZero(info.getNCPU())), vcpusUsed,
                Math.max(1, (info.getMemTotal() == null ? 0 : info.getMemTotal()) >> 20), memUsed,
                diskGb(info.getDockerRootDir()), diskUsed, "docker",
                HostResources.versionNumber(info.getServerVersion() == null ? "0" : info.getServerVersion()),
                hostname, cpuInfo(info.getArchitecture()), running);
    }

    /** Capacity of the file system under the engine's root dir (or the state dir when it is not local). */
    private long diskGb(String rootDir) {
        Path dir = rootDir != null && Files.isDirectory(Path.of(rootDir)) ? Path.of(rootDir) : fallbackDir;
        try {
            FileStore fs = Files.getFileStore(dir);
            return fs.getTotalSpace() / GIB;
        } catch (IOException e) {
            return 0;
        }
    }

    static CpuInfo cpuInfo(String arch) {
        String model = "";
        String vendor = "";
        Set<String> sockets = new HashSet<>();
        int cores = 1;
        int siblings = 1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String key = line.substring(0, colon).trim();
                String value = line.substring(colon + 1).trim();
                switch (key) {
                    case "model name" -> model = model.isEmpty() ? value : model;
                    case "vendor_id" -> vendor = vendor.isEmpty() ? value : vendor;
                    case "physical id" -> sockets.add(value);
                    case "cpu cores" -> cores = Math.max(1, parse(value));
                    case "siblings" -> siblings = Math.max(1, parse(value));
                    default -> { }
                }
            }
        } catch (IOException e) {
            // Not Linux, or /proc hidden: report what we know.
        }
        String a = arch == null || arch.isBlank() ? System.getProperty("os.arch") : arch;
        return new CpuInfo(a, model, vendor, Math.max(1, sockets.size()), cores, Math.max(1, siblings / cores));
    }

    private static int parse(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    private static int nullToZero(Integer i) {
        return i == null ? 0 : i;
    }
}
