package org.berth.driver.docker;

import com.github.dockerjava.api.command.InspectContainerResponse;
import java.time.Duration;
import java.util.UUID;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;

/**
 * Power operations. A graceful stop is the engine's stop signal, a poll of the state and SIGKILL when the grace
 * period runs out, rather than one {@code POST /stop?t=} call: that call blocks for the whole grace period, which
 * would have to fit in the HTTP response timeout; this way every engine call stays within {@code call_timeout}
 * however long the caller's grace period is.
 */
final class PowerControl {
    private static final Duration POLL = Duration.ofMillis(50);

    private final Engine engine;
    private final Vifs vifs;
    private final MetadataDir metadata;
    private final Duration stopTimeout;

    PowerControl(Engine engine, Vifs vifs, MetadataDir metadata, Duration stopTimeout) {
        this.engine = engine;
        this.vifs = vifs;
        this.metadata = metadata;
        this.stopTimeout = stopTimeout;
    }

    void powerOff(UUID uuid, Duration timeout) {
        if (timeout == null || timeout.isNegative()) {
            throw new IllegalArgumentException("timeout: must be zero or positive");
        }
        var c = engine.require(uuid);
        switch (PowerStates.of(c)) {
            case RUNNING -> stop(uuid, c, timeout);
            case PAUSED -> kill(uuid, c, true);
            default -> { } // already off
        }
        vifs.unplugAll(uuid, spec(c).vifs(), null);
    }

    void powerOn(UUID uuid) {
        var c = engine.require(uuid);
        PowerState state = PowerStates.of(c);
        if (state == PowerState.RUNNING) {
            return;
        }
        if (state == PowerState.PAUSED) {
            throw new DriverException.InvalidInstanceState(uuid, "power on", state);
        }
        start(uuid, c.getId(), spec(c));
    }

    void reboot(UUID uuid, RebootType type) {
        var c = engine.require(uuid);
        PowerState state = PowerStates.of(c);
        if (type == RebootType.SOFT && state == PowerState.RUNNING) {
            stop(uuid, c, stopTimeout);
        } else if (state == PowerState.RUNNING || state == PowerState.PAUSED) {
            kill(uuid, c, state == PowerState.PAUSED);
        }
        vifs.unplugAll(uuid, spec(c).vifs(), null);
        start(uuid, c.getId(), spec(c));
    }

    void pause(UUID uuid) {
        var c = engine.require(uuid);
        PowerState state = PowerStates.of(c);
        if (state == PowerState.PAUSED) {
            return;
        }
        if (state != PowerState.RUNNING) {
            throw new DriverException.InvalidInstanceState(uuid, "pause", state);
        }
        toward(uuid, "pause", PowerState.PAUSED, () -> engine.client().pauseContainerCmd(c.getId()).exec());
    }

    void unpause(UUID uuid) {
        var c = engine.require(uuid);
        PowerState state = PowerStates.of(c);
        if (state != PowerState.PAUSED) {
            throw new DriverException.InvalidInstanceState(uuid, "unpause", state);
        }
        toward(uuid, "unpause", PowerState.RUNNING, () -> engine.client().unpauseContainerCmd(c.getId()).exec());
    }

    /**
     * One engine call meant to bring the container to {@code wanted}. The engine answers 500 ("is not paused",
     * "is already paused") when the state changed between our inspect and the call (seen once in CI: an unpause
     * right after a pause was refused as "not paused"); if the container is now in the wanted state anyway, the
     * operation has its effect and is not an error, as a pause of a paused container already is not.
     */
    private void toward(UUID uuid, String operation, PowerState wanted, Runnable call) {
        try {
            engine.run(operation, uuid, call);
        } catch (DriverException.BackendFailure e) {
            PowerState now;
            try {
                now = PowerStates.of(engine.require(uuid));
            } catch (RuntimeException again) {
                e.addSuppressed(again);
                throw e;
            }
            if (now != wanted) {
                throw e;
            }
        }
    }

    /**
     * Starts the container and plugs its VIFs into the new network namespace; a failed plug kills it again.
     * A container whose command ends at once is not an error here: info() then reports it SHUTDOWN.
     */
    void start(UUID uuid, String containerId, InstanceSpec spec) {
        metadata.ensure(spec); // the mount's source must exist, or the engine refuses to start
        engine.run("start", uuid, () -> engine.client().startContainerCmd(containerId).exec());
        if (spec.vifs().isEmpty() || !vifs.canPlug()) {
            return;
        }
        var started = engine.require(uuid);
        if (PowerStates.of(started) != PowerState.RUNNING) {
            return; // no namespace to plug into
        }
        try {
            vifs.plugAll(uuid, spec.vifs(), started.getState().getPidLong());
        } catch (RuntimeException e) {
            try {
                kill(uuid, started, false);
            } catch (RuntimeException k) {
                e.addSuppressed(k);
            }
            throw e;
        }
    }

    /** The stop signal, up to {@code timeout} for the exit, then SIGKILL. */
    private void stop(UUID uuid, InspectContainerResponse c, Duration timeout) {
        // docker-java's ContainerConfig does not expose an image's StopSignal; Berth's images stop on SIGTERM.
        String signal = "SIGTERM";
        try {
            engine.run("stop", uuid, () -> engine.client().killContainerCmd(c.getId()).withSignal(signal).exec());
        } catch (DriverException.InvalidInstanceState e) {
            return; // exited between inspect and signal
        }
        if (!awaitExit(uuid, c, timeout)) {
            kill(uuid, c, false);
        }
    }

    /** SIGKILL and wait for the exit; a paused container is thawed first so the kill is delivered at once. */
    private void kill(UUID uuid, InspectContainerResponse c, boolean paused) {
        try {
            if (paused) {
                engine.run("unpause", uuid, () -> engine.client().unpauseContainerCmd(c.getId()).exec());
            }
            engine.run("kill", uuid, () -> engine.client().killContainerCmd(c.getId()).withSignal("SIGKILL").exec());
        } catch (DriverException.InvalidInstanceState e) {
            return; // not running any more
        }
        if (!awaitExit(uuid, c, engine.callTimeout())) {
            throw new DriverException.OperationTimedOut("docker kill " + c.getId(), engine.callTimeout(),
                    "the container is still running after SIGKILL");
        }
    }

    private boolean awaitExit(UUID uuid, InspectContainerResponse c, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            PowerState s = PowerStates.of(engine.require(uuid));
            if (s != PowerState.RUNNING && s != PowerState.PAUSED) {
                return true;
            }
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            try {
                Thread.sleep(POLL);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DriverException.OperationTimedOut("waiting for " + c.getName() + " to exit", timeout,
                        "interrupted");
            }
        }
    }

    private InstanceSpec spec(InspectContainerResponse c) {
        return vifs.current(SpecLabels.from(c.getConfig().getLabels()).orElseThrow());
    }
}
