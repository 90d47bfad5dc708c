package org.berth.driver.api;

/**
 * Host capacity and usage, in Nova's fields. A driver reports the raw host (no allocation ratios); the agent
 * applies ratios and reservations once for the host, however many drivers share it.
 *
 * @param vcpus              physical CPUs (threads) of the host
 * @param vcpusUsed          vCPUs of this driver's instances (sum of flavors)
 * @param memoryMb           total host memory in MiB
 * @param memoryMbUsed       memory of this driver's instances in MiB (sum of flavors)
 * @param localGb            capacity in GiB of the file system holding instance disks
 * @param localGbUsed        disk of this driver's instances in GiB (sum of flavors)
 * @param hypervisorType     e.g. {@code QEMU}, {@code KVM}, {@code docker}
 * @param hypervisorVersion  Nova's integer form, major*1000000 + minor*1000 + micro
 * @param hypervisorHostname the host name
 * @param cpuInfo            host CPU description
 * @param runningInstances   instances of this driver whose power state is RUNNING
 */
public record HostResources(int vcpus, int vcpusUsed, long memoryMb, long memoryMbUsed, long localGb,
                            long localGbUsed, String hypervisorType, long hypervisorVersion,
                            String hypervisorHostname, CpuInfo cpuInfo, int runningInstances) {
    public HostResources {
        Check.atLeast(vcpus, 1, "resources.vcpus");
        Check.atLeast(vcpusUsed, 0, "resources.vcpus_used");
        Check.atLeast(memoryMb, 1, "resources.memory_mb");
        Check.atLeast(memoryMbUsed, 0, "resources.memory_mb_used");
        Check.atLeast(localGb, 0, "resources.local_gb");
        Check.atLeast(localGbUsed, 0, "resources.local_gb_used");
        Check.notBlank(hypervisorType, "resources.hypervisor_type");
        Check.atLeast(hypervisorVersion, 0, "resources.hypervisor_version");
        Check.notBlank(hypervisorHostname, "resources.hypervisor_hostname");
        Check.notNull(cpuInfo, "resources.cpu_info");
        Check.atLeast(runningInstances, 0, "resources.running_instances");
    }

    /** Nova's integer version from a dotted string such as {@code 7.2.0} or {@code 20.10.24}. */
    public static long versionNumber(String dotted) {
        String[] parts = dotted.split("[^0-9]+");
        long v = 0;
        int used = 0;
        for (String p : parts) {
            if (p.isEmpty()) {
                continue;
            }
            if (used == 3) {
                break;
            }
            v = v * 1000 + Math.min(999, Long.parseLong(p.length() > 6 ? p.substring(0, 6) : p));
            used++;
        }
        for (; used < 3; used++) {
            v *= 1000;
        }
        return v;
    }
}
