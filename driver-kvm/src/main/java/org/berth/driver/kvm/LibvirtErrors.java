package org.berth.driver.kvm;

import java.util.UUID;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.LibvirtException;

/** libvirt error codes to Berth's sealed exceptions. */
final class LibvirtErrors {
    private LibvirtErrors() {
    }

    static DriverException map(String operation, UUID uuid, LibvirtException e, Connect connect,
                               LibvirtSession session) {
        ErrorNumber code = e.getError() == null ? ErrorNumber.VIR_ERR_UNKNOWN : e.getError().getCode();
        String message = e.getError() == null ? String.valueOf(e) : e.getError().getMessage();
        return switch (code) {
            case VIR_ERR_NO_DOMAIN -> uuid == null
                    ? new DriverException.BackendFailure(LibvirtSession.BACKEND, operation, message, e)
                    : new DriverException.InstanceNotFound(uuid);
            case VIR_ERR_DOM_EXIST -> uuid == null
                    ? new DriverException.BackendFailure(LibvirtSession.BACKEND, operation, message, e)
                    : new DriverException.InstanceExists(uuid);
            case VIR_ERR_OPERATION_INVALID -> uuid == null
                    ? new DriverException.BackendFailure(LibvirtSession.BACKEND, operation, message, e)
                    : new DriverException.InvalidInstanceState(uuid, operation, stateOf(connect, uuid));
            case VIR_ERR_INVALID_CONN, VIR_ERR_NO_CONNECT, VIR_ERR_RPC -> {
                session.drop();
                yield new DriverException.BackendUnavailable(LibvirtSession.BACKEND, message, e);
            }
            case VIR_ERR_SYSTEM_ERROR -> {
                if (isAlive(connect)) {
                    yield new DriverException.BackendFailure(LibvirtSession.BACKEND, operation, message, e);
                }
                session.drop();
                yield new DriverException.BackendUnavailable(LibvirtSession.BACKEND, message, e);
            }
            case VIR_ERR_OPERATION_TIMEOUT -> new DriverException.OperationTimedOut(operation,
                    java.time.Duration.ZERO, message);
            default -> new DriverException.BackendFailure(LibvirtSession.BACKEND, operation, message, e);
        };
    }

    private static boolean isAlive(Connect connect) {
        try {
            return connect.isAlive();
        } catch (LibvirtException | RuntimeException e) {
            return false;
        }
    }

    /** The state found, for {@link DriverException.InvalidInstanceState}; NOSTATE when it cannot be read. */
    static PowerState stateOf(Connect connect, UUID uuid) {
        try {
            Domain d = connect.domainLookupByName(InstanceSpec.backendName(uuid));
            return PowerStates.of(d);
        } catch (LibvirtException | RuntimeException e) {
            return PowerState.NOSTATE;
        }
    }
}
