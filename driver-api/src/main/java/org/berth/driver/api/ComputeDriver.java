package org.berth.driver.api;

import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * One backend's view of the instances on this host: the executable contract of DESIGN.md, checked by the
 * conformance suite.
 *
 * <p>Threading: every method must be thread-safe. Callers run at most one operation per instance at a time, but
 * operations on different instances run concurrently. Every method must return within a bound (each operation's
 * own timeout, or the driver's configured backend timeout) and raise {@link DriverException.OperationTimedOut}
 * otherwise; none may block forever. A wedged backend (it accepts the connection, then never answers) makes
 * {@link ComputeDriverProvider#create}, every operation and {@link #close} return within a small multiple of the
 * driver's call timeout, with {@link DriverException.OperationTimedOut} (or {@link DriverException.BackendUnavailable}
 * when the driver gives up connecting).
 *
 * <p>Answers when the instance is already where the call would take it (idempotence in critest's sense; each
 * answer comes promptly, never after a hang): {@link #destroy} of a destroyed or unknown instance succeeds;
 * {@link #powerOff} of a SHUTDOWN instance and {@link #powerOn} of a RUNNING one succeed and change nothing;
 * {@link #pause} of a PAUSED and {@link #suspend} of a SUSPENDED instance succeed; {@link #unpause} of a RUNNING instance and {@link #resume} of a
 * RUNNING one raise {@link DriverException.InvalidInstanceState} naming RUNNING; {@link #pause} and
 * {@link #suspend} of a SHUTDOWN instance raise it naming SHUTDOWN; {@link #detachInterface} of a port the
 * instance does not have succeeds.
 *
 * <p>Errors: only {@link DriverException} kinds (plus {@link IllegalArgumentException} for invalid arguments).
 * An unknown instance raises {@link DriverException.InstanceNotFound}; an operation in the wrong state raises
 * {@link DriverException.InvalidInstanceState} with the state found; an unreachable backend raises
 * {@link DriverException.BackendUnavailable}; an optional operation the driver does not declare in
 * {@link DriverInfo#capabilities()} raises {@link DriverException.CapabilityMissing}.
 */
public interface ComputeDriver extends AutoCloseable {
    /** Name, version, hypervisor type, capabilities and accepted image formats. Must not touch the backend. */
    DriverInfo describe();

    /**
     * Creates the instance and, when {@link InstanceSpec#powerOn()}, powers it on and plugs its VIFs.
     * On any failure everything this call created is removed before the exception propagates (no container,
     * domain, overlay, tap/veth or OVS port remains).
     *
     * @return the instance as the backend now reports it
     * @throws DriverException.InstanceExists     if an instance with this UUID exists
     * @throws DriverException.ImageNotFound      if the image is not in the store
     * @throws DriverException.ImageInvalid       if the driver cannot spawn from the image's format
     */
    InstanceInfo spawn(InstanceSpec spec);

    /**
     * Refuses a spec this driver could never spawn for a reason of its own (beyond the records' checks), before the
     * caller records or claims anything: the agent turns the refusal into a 400 naming the field. Must not touch the
     * backend. {@link #spawn} checks the same again. The default accepts every spec.
     *
     * @throws IllegalArgumentException {@code "instance.<field>: <rule>"}
     */
    default void validate(InstanceSpec spec) {
    }

    /**
     * Removes the instance and every host artefact it had (backend object, disks, console log, VIFs).
     * Idempotent: an unknown or half-built instance succeeds. Works in every power state.
     */
    void destroy(UUID uuid);

    /**
     * Asks the guest to shut down and waits up to {@code timeout}, then forces it off.
     * Already SHUTDOWN is not an error. SUSPENDED and PAUSED instances are forced off.
     */
    void powerOff(UUID uuid, Duration timeout);

    /** Powers the instance on and re-plugs its VIFs. Already RUNNING is not an error. */
    void powerOn(UUID uuid);

    /**
     * SOFT: the guest shuts down and starts again; falls back to HARD after the driver's soft-reboot timeout
     * ({@link Capability#SOFT_REBOOT}; without it SOFT behaves as HARD). HARD: restart from any state, also PAUSED,
     * SHUTDOWN or SUSPENDED, regenerating the backend definition from the stored spec. Ends RUNNING.
     */
    void reboot(UUID uuid, RebootType type);

    /** Freezes a RUNNING instance in memory ({@link Capability#PAUSE}). Already PAUSED is not an error. */
    void pause(UUID uuid);

    /** Thaws a PAUSED instance. RUNNING raises {@link DriverException.InvalidInstanceState} (nothing to unpause). */
    void unpause(UUID uuid);

    /**
     * Saves a RUNNING or PAUSED instance to disk, surviving a host restart ({@link Capability#SUSPEND}).
     * SHUTDOWN raises {@link DriverException.InvalidInstanceState}.
     */
    void suspend(UUID uuid);

    /** Restores a SUSPENDED instance to RUNNING. Any other state raises {@link DriverException.InvalidInstanceState}. */
    void resume(UUID uuid);

    /** The power state and stored spec, read from the backend. */
    InstanceInfo info(UUID uuid);

    /**
     * Berth's instances of this driver that carry the context's {@link DriverContext#owner() owner} (and only those),
     * read from the backend. Host-wide figures ({@link #resources()}) still count every Berth instance on the host.
     */
    List<InstanceInfo> list();

    /**
     * The last at most {@code maxBytes} bytes of the serial console or container log ({@link Capability#CONSOLE_LOG}).
     * Never reads more than a bounded amount from the backend, however large the log is.
     *
     * @param maxBytes 1 to 1 MiB
     */
    byte[] consoleLog(UUID uuid, int maxBytes);

    /**
     * Stores a copy of the instance's disk or filesystem as a new image in the {@link ImageStore} that spawns
     * again with this driver ({@link Capability#SNAPSHOT}). The instance ends in the power state it had.
     */
    Image snapshot(UUID uuid, String imageName);

    /** Hot-plugs a VIF into a RUNNING instance ({@link Capability#INTERFACE_HOTPLUG}); it stays in the stored spec. */
    void attachInterface(UUID uuid, VifSpec vif);

    /** Hot-unplugs the VIF with this port id. Idempotent for a port the instance does not have. */
    void detachInterface(UUID uuid, String portId);

    /**
     * Plugs again the VIFs of a RUNNING instance whose host side was lost behind the driver's back (an OVS port
     * or tap/veth deleted, as after an OVS database reset or a host network restart): the agent's reconcile calls it
     * for its running instances. Idempotent: VIFs in place are kept as they are; an instance that is not RUNNING is
     * left alone (powering on plugs its VIFs). The default, for drivers without VIFs, does nothing.
     *
     * @throws DriverException.InstanceNotFound if the backend has no such instance
     */
    default void replugVifs(UUID uuid) {
    }

    /**
     * An interactive stream to the instance's console ({@link Capability#CONSOLE}): bytes typed go to the guest's
     * serial port (or the container's TTY), what the guest prints comes back. At most one console stream per
     * instance is open at a time (the caller enforces it; a driver may refuse a second one with
     * {@link DriverException.BackendFailure}). The stream ends (read returns -1) when the instance stops or is
     * destroyed. Only a RUNNING instance has a console; any other state raises
     * {@link DriverException.InvalidInstanceState}. Returns within the driver's call timeout.
     */
    default InstanceStream openConsole(UUID uuid) {
        throw new DriverException.CapabilityMissing(describe().name(), Capability.CONSOLE);
    }

    /**
     * Starts {@code spec}'s command inside the RUNNING instance ({@link Capability#EXEC}) and returns its stdin and
     * (merged) stdout/stderr as a stream whose {@link InstanceStream#exitCode()} is known once read returns -1.
     * Any other state raises {@link DriverException.InvalidInstanceState}. Closing the stream before the command
     * ends kills the command: nothing the session started outlives it.
     */
    default InstanceStream exec(UUID uuid, ExecSpec spec) {
        throw new DriverException.CapabilityMissing(describe().name(), Capability.EXEC);
    }

    /**
     * The current counters of every instance of this driver that carries the context's owner, read from the backend
     * in as few calls as it allows (one bulk call where it has one) ({@link Capability#INSTANCE_STATS}). An instance
     * that vanishes while sampled is left out, never an error; an instance that is not RUNNING may report zero
     * traffic and no memory. Called from the agent's sampler thread every few seconds, never on a request path; returns
     * within the driver's call timeout.
     */
    default List<InstanceStats> stats() {
        throw new DriverException.CapabilityMissing(describe().name(), Capability.INSTANCE_STATS);
    }

    /** Raw host capacity and this driver's usage: the flavors of every Berth instance of it on the host, whoever owns it. */
    HostResources resources();

    /** Releases connections and threads. Instances keep running. Idempotent. */
    @Override
    void close();
}
