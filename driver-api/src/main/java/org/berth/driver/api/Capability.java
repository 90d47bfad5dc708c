package org.berth.driver.api;

/**
 * Optional features a driver declares in {@link DriverInfo#capabilities()}: the rows of Berth's support matrix.
 * Operations outside this set (spawn, destroy, power off/on, hard reboot, info, list, resources) are mandatory.
 * A driver that lacks a capability raises {@link DriverException.CapabilityMissing} for its operation;
 * the conformance suite skips that operation's tests for it and for no other reason.
 */
public enum Capability {
    /** {@link ComputeDriver#reboot} with {@link RebootType#SOFT} asks the guest to cooperate. */
    SOFT_REBOOT,
    /** {@link ComputeDriver#pause}/{@link ComputeDriver#unpause}: frozen in memory. */
    PAUSE,
    /** {@link ComputeDriver#suspend}/{@link ComputeDriver#resume}: state saved to disk, survives a host restart. */
    SUSPEND,
    /** {@link ComputeDriver#consoleLog}: a bounded tail of the serial console or container log. */
    CONSOLE_LOG,
    /** {@link ComputeDriver#snapshot}: a new image in the image store that spawns again. */
    SNAPSHOT,
    /** {@link ComputeDriver#attachInterface}/{@link ComputeDriver#detachInterface} on a running instance. */
    INTERFACE_HOTPLUG,
    /** Lifecycle events are published to {@link DriverContext#events()} as the backend reports them. */
    LIFECYCLE_EVENTS,
    /** {@link ComputeDriver#openConsole}: an interactive byte stream to the serial console (or a container's TTY). */
    CONSOLE,
    /** {@link ComputeDriver#exec}: a command run inside the instance, its stdin/stdout as a stream, its exit code. */
    EXEC,
    /** {@link ComputeDriver#stats()}: counters of every instance (CPU time, memory, VIF traffic, disk I/O) in one call. */
    INSTANCE_STATS
}
