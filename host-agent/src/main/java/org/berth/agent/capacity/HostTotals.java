package org.berth.agent.capacity;

import org.berth.driver.api.CpuInfo;

/** The host's raw size, taken once for the host whatever the number of drivers. */
public record HostTotals(int vcpus, long memoryMb, long localGb, String hostname, CpuInfo cpuInfo, String source) {
}
