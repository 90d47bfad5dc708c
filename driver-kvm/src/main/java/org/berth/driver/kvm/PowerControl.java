package org.berth.driver.kvm;

import java.time.Duration;
import java.util.UUID;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;

/** Power operations: graceful-then-forced off, on, soft/hard reboot, pause, managed-save suspend. */
final class PowerControl {
    private static final Duration POLL = Duration.ofMillis(200);
    /** The ACPI power button is re-pressed this often: a guest still booting ignores the first press. */
    private static final Duration REPRESS = Duration.ofSeconds(2);
    /** How long a domain whose monitor dropped under a shutdown command may take to show as inactive. */
    private static final Duration SETTLE = Duration.ofSeconds(3);

    private final Domains domains;
    private final KvmConfig config;

    PowerControl(Domains domains, KvmConfig config) {
        this.domains = domains;
        this.config = config;
    }

    void powerOff(UUID uuid, Duration timeout) {
        if (timeout == null || timeout.isNegative()) {
            throw new IllegalArgumentException("timeout: must be given and not negative");
        }
        PowerState state = domains.state("power off", uuid);
        switch (state) {
            case SHUTDOWN -> {
                return;
            }
            case RUNNING -> {
                if (shutdownWithin(uuid, timeout)) {
                    return;
                }
            }
            default -> {
                // PAUSED, SUSPENDED, CRASHED, NOSTATE: forced off
            }
        }
        domains.forceOff("power off", uuid);
    }

    /** ACPI shutdown, polling for SHUTOFF; true when the guest stopped within {@code timeout}. */
    private boolean shutdownWithin(UUID uuid, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextPress = 0;
        while (true) {
            long now = System.nanoTime();
            if (now - nextPress >= 0) {
                PowerState s = domains.session.call("shut down", uuid, c -> {
                    Domain d = Domains.lookup(c, uuid);
                    PowerState current = PowerStates.of(d);
                    if (current == PowerState.RUNNING) {
                        try {
                            d.shutdown();
                        } catch (LibvirtException e) {
                            // a guest that powers off at once closes QEMU's monitor under the command ("Connection
                            // reset by peer") a moment before libvirt marks the domain inactive: give it that moment
                            long settle = System.nanoTime() + SETTLE.toNanos();
                            while (d.isActive() == 1 && System.nanoTime() - settle < 0) {
                                sleep();
                            }
                            if (d.isActive() == 1) {
                                throw e;
                            }
                        }
                    }
                    return current;
                });
                if (s != PowerState.RUNNING) {
                    return s == PowerState.SHUTDOWN;
                }
                nextPress = now + REPRESS.toNanos();
            }
            if (domains.state("shut down", uuid) == PowerState.SHUTDOWN) {
                return true;
            }
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            sleep();
        }
    }

    void powerOn(UUID uuid) {
        PowerState state = domains.state("power on", uuid);
        InstanceSpec spec = domains.spec("power on", uuid);
        switch (state) {
            case RUNNING -> domains.plugAll(uuid, spec.vifs());
            case PAUSED -> {
                domains.plugAll(uuid, spec.vifs());
                domains.session.call("power on", uuid, c -> {
                    Domains.lookup(c, uuid).resume();
                    return null;
                });
            }
            default -> domains.start("power on", spec);
        }
    }

    void reboot(UUID uuid, RebootType type) {
        if (type == null) {
            throw new IllegalArgumentException("reboot type: must be given");
        }
        if (type == RebootType.SOFT && domains.state("reboot", uuid) == PowerState.RUNNING
                && shutdownWithin(uuid, config.softRebootTimeout())) {
            domains.start("reboot", domains.spec("reboot", uuid));
            return;
        }
        hardReboot(uuid);
    }

    /** Destroy, regenerate the definition from the stored spec (repairing a lost one) and start. */
    private void hardReboot(UUID uuid) {
        InstanceSpec spec = domains.forceOff("reboot", uuid)
                .or(() -> domains.files.storedSpec(uuid))
                .orElseThrow(() -> new DriverException.InstanceNotFound(uuid));
        DomainXml.Layout layout = domains.files.prepare(spec);
        domains.define(spec, layout);
        domains.start("reboot", spec);
    }

    void pause(UUID uuid) {
        PowerState state = domains.state("pause", uuid);
        if (state == PowerState.PAUSED) {
            return;
        }
        require(uuid, "pause", state, PowerState.RUNNING);
        domains.session.call("pause", uuid, c -> {
            Domains.lookup(c, uuid).suspend();
            return null;
        });
    }

    void unpause(UUID uuid) {
        require(uuid, "unpause", domains.state("unpause", uuid), PowerState.PAUSED);
        domains.session.call("unpause", uuid, c -> {
            Domains.lookup(c, uuid).resume();
            return null;
        });
    }

    void suspend(UUID uuid) {
        PowerState state = domains.state("suspend", uuid);
        if (state == PowerState.SUSPENDED) {
            return;
        }
        if (state != PowerState.RUNNING && state != PowerState.PAUSED) {
            throw new DriverException.InvalidInstanceState(uuid, "suspend", state);
        }
        domains.session.call("suspend", uuid, c -> Domains.lookup(c, uuid).managedSave());
    }

    void resume(UUID uuid) {
        require(uuid, "resume", domains.state("resume", uuid), PowerState.SUSPENDED);
        domains.start("resume", domains.spec("resume", uuid));
    }

    private static void require(UUID uuid, String operation, PowerState found, PowerState wanted) {
        if (found != wanted) {
            throw new DriverException.InvalidInstanceState(uuid, operation, found);
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(POLL);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException.OperationTimedOut("power off", POLL, "interrupted");
        }
    }
}
