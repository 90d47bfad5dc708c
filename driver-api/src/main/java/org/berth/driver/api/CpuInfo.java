package org.berth.driver.api;

/**
 * The host CPU as Nova's {@code cpu_info} reports it.
 *
 * @param arch    e.g. {@code x86_64}
 * @param model   e.g. {@code Skylake-Client-IBRS} or the /proc/cpuinfo model name
 * @param vendor  e.g. {@code Intel}
 * @param sockets sockets, at least 1
 * @param cores   cores per socket, at least 1
 * @param threads threads per core, at least 1
 */
public record CpuInfo(String arch, String model, String vendor, int sockets, int cores, int threads) {
    public CpuInfo {
        Check.notBlank(arch, "cpu_info.arch");
        Check.notNull(model, "cpu_info.model");
        Check.notNull(vendor, "cpu_info.vendor");
        Check.atLeast(sockets, 1, "cpu_info.topology.sockets");
        Check.atLeast(cores, 1, "cpu_info.topology.cores");
        Check.atLeast(threads, 1, "cpu_info.topology.threads");
    }
}
