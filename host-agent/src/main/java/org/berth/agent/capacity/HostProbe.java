package org.berth.agent.capacity;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import org.berth.driver.api.CpuInfo;

/** The host's size from the OS, used when no driver is connected to say it. */
final class HostProbe {
    private HostProbe() {
    }

    static HostTotals probe(Path stateDir) {
        long memMb = 1024;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    memMb = Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // keep the fallback
        }
        long diskGb = 0;
        try {
            diskGb = Files.getFileStore(stateDir.toAbsolutePath()).getTotalSpace() >> 30;
        } catch (IOException e) {
            // keep 0
        }
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "localhost";
        }
        int cpus = Runtime.getRuntime().availableProcessors();
        return new HostTotals(cpus, memMb, diskGb, host,
                new CpuInfo(System.getProperty("os.arch"), "unknown", "unknown", 1, cpus, 1), "os");
    }
}
