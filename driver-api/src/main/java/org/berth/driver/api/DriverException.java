package org.berth.driver.api;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;

/**
 * Every error a driver, an {@link ImageStore} or a {@link VifPlugger} raises. Sealed: callers switch over the
 * kinds, and each kind carries the data an operator needs (the instance, the state found, the backend).
 * Messages never contain secrets.
 */
public abstract sealed class DriverException extends RuntimeException {
    DriverException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The instance does not exist in the backend. */
    public static final class InstanceNotFound extends DriverException {
        private final UUID uuid;

        public InstanceNotFound(UUID uuid) {
            super("instance " + uuid + " not found", null);
            this.uuid = uuid;
        }

        public UUID uuid() {
            return uuid;
        }
    }

    /** An instance with this UUID already exists (spawn of a duplicate). */
    public static final class InstanceExists extends DriverException {
        private final UUID uuid;

        public InstanceExists(UUID uuid) {
            super("instance " + uuid + " already exists", null);
            this.uuid = uuid;
        }

        public UUID uuid() {
            return uuid;
        }
    }

    /** The operation is not allowed in the state the instance is in. */
    public static final class InvalidInstanceState extends DriverException {
        private final UUID uuid;
        private final String operation;
        private final PowerState found;

        public InvalidInstanceState(UUID uuid, String operation, PowerState found) {
            super("cannot " + operation + " instance " + uuid + " in power state " + found, null);
            this.uuid = uuid;
            this.operation = operation;
            this.found = found;
        }

        public UUID uuid() {
            return uuid;
        }

        public String operation() {
            return operation;
        }

        /** The power state the driver found. */
        public PowerState found() {
            return found;
        }
    }

    /** The backend (dockerd, libvirtd, ovsdb-server...) cannot be reached or stopped answering. */
    public static final class BackendUnavailable extends DriverException {
        private final String backend;

        public BackendUnavailable(String backend, String detail, Throwable cause) {
            super(backend + " is unavailable: " + detail, cause);
            this.backend = backend;
        }

        public String backend() {
            return backend;
        }
    }

    /** The backend answered with an error Berth does not map to a more specific kind. */
    public static final class BackendFailure extends DriverException {
        private final String backend;
        private final String operation;

        public BackendFailure(String backend, String operation, String detail, Throwable cause) {
            super(backend + " failed to " + operation + ": " + detail, cause);
            this.backend = backend;
            this.operation = operation;
        }

        public String backend() {
            return backend;
        }

        public String operation() {
            return operation;
        }
    }

    /** A bounded wait ran out. */
    public static final class OperationTimedOut extends DriverException {
        private final String operation;
        private final Duration timeout;

        public OperationTimedOut(String operation, Duration timeout, String detail) {
            this(operation, timeout, operation + " did not finish within " + timeout.toMillis() + " ms"
                    + (detail == null || detail.isEmpty() ? "" : ": " + detail), (Throwable) null);
        }

        private OperationTimedOut(String operation, Duration timeout, String message, Throwable cause) {
            super(message, cause);
            this.operation = operation;
            this.timeout = timeout;
        }

        /**
         * A timeout whose message is {@code message} as it stands, for a wait whose words say more than "did not
         * finish" (it must still name what was waited for and the bound); {@code cause} may be null.
         */
        public static OperationTimedOut withMessage(String operation, Duration timeout, String message,
                                                    Throwable cause) {
            return new OperationTimedOut(operation, timeout, message, cause);
        }

        public String operation() {
            return operation;
        }

        public Duration timeout() {
            return timeout;
        }
    }

    /** The driver does not declare the capability the operation needs. */
    public static final class CapabilityMissing extends DriverException {
        private final String driver;
        private final Capability capability;

        public CapabilityMissing(String driver, Capability capability) {
            super("driver " + driver + " does not support " + capability, null);
            this.driver = driver;
            this.capability = capability;
        }

        public String driver() {
            return driver;
        }

        public Capability capability() {
            return capability;
        }
    }

    /** No image with this id in the image store. */
    public static final class ImageNotFound extends DriverException {
        private final String imageId;

        public ImageNotFound(String imageId) {
            super("image " + imageId + " not found", null);
            this.imageId = imageId;
        }

        public String imageId() {
            return imageId;
        }
    }

    /** The image exists but cannot be used: checksum mismatch, wrong format for this driver, unreadable file. */
    public static final class ImageInvalid extends DriverException {
        private final String imageId;
        private final String rule;

        public ImageInvalid(String imageId, String rule) {
            super("image " + imageId + ": " + rule, null);
            this.imageId = imageId;
            this.rule = rule;
        }

        public String imageId() {
            return imageId;
        }

        public String rule() {
            return rule;
        }
    }

    /** Plugging or unplugging a VIF failed; what this call created was rolled back. */
    public static final class VifFailure extends DriverException {
        private final String portId;

        public VifFailure(String portId, String detail, Throwable cause) {
            super("vif " + portId + ": " + detail, cause);
            this.portId = portId;
        }

        public String portId() {
            return portId;
        }
    }

    /** A configuration option has a value that breaks its rule. */
    public static final class InvalidConfiguration extends DriverException {
        private final String option;
        private final String rule;

        public InvalidConfiguration(String option, String value, String rule) {
            super(option + ": '" + value + "' " + rule, null);
            this.option = Objects.requireNonNull(option);
            this.rule = rule;
        }

        public String option() {
            return option;
        }

        public String rule() {
            return rule;
        }
    }

    /**
     * The backend's unprivileged user (QEMU's, for libvirt) cannot reach the driver's state directory, so every
     * spawn would fail on a disk it cannot open. Raised by {@link ComputeDriverProvider#create} at start, never per
     * spawn. {@code blocked} is the first directory on the way that the user cannot search or read.
     */
    public static final class StateDirUnreachable extends DriverException {
        private final Path stateDir;
        private final String user;
        private final Path blocked;
        private final String rule;

        public StateDirUnreachable(Path stateDir, String user, Path blocked, String rule) {
            super("state directory " + stateDir + ": " + user + " cannot reach it: " + blocked + " " + rule, null);
            this.stateDir = Objects.requireNonNull(stateDir);
            this.user = Objects.requireNonNull(user);
            this.blocked = Objects.requireNonNull(blocked);
            this.rule = Objects.requireNonNull(rule);
        }

        public Path stateDir() {
            return stateDir;
        }

        /** Who must reach it, e.g. {@code libvirt-qemu (uid 64055, gid 64055)}. */
        public String user() {
            return user;
        }

        public Path blocked() {
            return blocked;
        }

        /** Why, e.g. {@code is drwx------ root:root: no search (x) permission for that user}. */
        public String rule() {
            return rule;
        }
    }
}
