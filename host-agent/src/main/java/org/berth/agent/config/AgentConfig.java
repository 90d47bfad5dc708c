package org.berth.agent.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Every agent option, validated by {@link ConfigLoader}. Names match the YAML keys (see host-agent/README.md).
 *
 * @param instancesPath where each driver keeps its instances' files ({@code <instances_path>/<driver>/}: disks,
 *                      console logs), Nova's option name; a backend's own user (QEMU's) must be able to reach it
 * @param placement the report to OpenStack Placement, with {@code host} and {@code update_resources_interval}
 * @param drivers enabled drivers and their options; empty means "every driver on the class path, default options"
 * @param owner   who this agent is to its backends ({@code owner}): the {@code DriverContext} owner of every driver,
 *                so several agents sharing one dockerd (or libvirtd) do not adopt each other's instances
 * @param vifPlugging {@code vif_plugging_timeout} and {@code vif_plugging_is_fatal}
 * @param tls         the API's TLS ({@code tls.*}); {@link TlsConfig#off()} when not set
 * @param allowInsecureHttp {@code allow_insecure_http}: a non-loopback {@code listen_address} without TLS is allowed
 * @param idleTimeout {@code idle_timeout}: a connection with no complete request for this long (after it opens or
 *                    after its last answer) is closed; not an event stream, an upload, a request being answered
 * @param maxConnections {@code max_connections}: API connections open at once; beyond, new ones are closed
 * @param console     interactive sessions ({@code console.*}): limits, idle timeout, frame size, ticket lifetime
 * @param instanceStatsInterval {@code instance_stats_interval}: how often the agent samples every driver's
 *                    instance counters for /metrics, diagnostics and {@code berth top}; {@link Duration#ZERO} = off
 */
public record AgentConfig(String listenAddress, int listenPort, Path stateDir, Path instancesPath, List<Path> imageDirs,
                          String bridge,
                          boolean ovsEnabled, String ovsdb, boolean ovsCreateBridges,
                          Map<String, DriverSettings> drivers,
                          double cpuAllocationRatio, double ramAllocationRatio, double diskAllocationRatio,
                          long reservedHostMemoryMb, boolean resumeGuestsStateOnHostBoot,
                          RunningDeletedAction runningDeletedInstanceAction, Duration syncPowerStateInterval,
                          Duration driverRetryMaxBackoff, int maxRequestBodyBytes, int apiWorkers, int taskWorkers,
                          Duration shutdownTimeout, long maxImageUploadBytes, int maxConcurrentImageUploads,
                          Duration imageUploadIdleTimeout, PlacementConfig placement, String owner,
                          VifPluggingConfig vifPlugging, TlsConfig tls, boolean allowInsecureHttp,
                          Duration idleTimeout, int maxConnections, ConsoleConfig console,
                          Duration instanceStatsInterval) {
    public AgentConfig {
        imageDirs = List.copyOf(imageDirs);
        drivers = Map.copyOf(drivers);
    }

    /** Whether the agent samples instance counters ({@code instance_stats_interval} is not 0). */
    public boolean instanceStatsEnabled() {
        return !instanceStatsInterval.isZero();
    }

    /** The built-in defaults: what {@code make run} uses with no file. */
    public static AgentConfig defaults() {
        return ConfigLoader.parse("{}");
    }

    public AgentConfig withListenPort(int port) {
        return new AgentConfig(listenAddress, port, stateDir, instancesPath, imageDirs, bridge, ovsEnabled, ovsdb, ovsCreateBridges,
                drivers, cpuAllocationRatio, ramAllocationRatio, diskAllocationRatio, reservedHostMemoryMb,
                resumeGuestsStateOnHostBoot, runningDeletedInstanceAction, syncPowerStateInterval,
                driverRetryMaxBackoff, maxRequestBodyBytes, apiWorkers, taskWorkers, shutdownTimeout,
                maxImageUploadBytes, maxConcurrentImageUploads, imageUploadIdleTimeout, placement, owner, vifPlugging,
                tls, allowInsecureHttp, idleTimeout, maxConnections, console, instanceStatsInterval);
    }
}
