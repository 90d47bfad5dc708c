package org.berth.agent.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.System.Logger.Level;
import org.berth.agent.capacity.HostDisabled;
import org.berth.agent.capacity.InsufficientCapacity;
import org.berth.agent.store.FieldError;
import org.berth.agent.store.StoreException;
import org.berth.agent.task.PortConflict;
import org.berth.agent.task.TaskConflict;
import org.berth.driver.api.DriverException;

/** Maps every failure to an HTTP status and the error body. Internal details stay in the log. */
final class Errors {
    private static final System.Logger LOG = System.getLogger(Errors.class.getName());

    private Errors() {
    }

    static Response toResponse(Throwable t, String requestId) {
        ApiError e = classify(t);
        if (e.status() >= 500 && e.status() != 503 && e.status() != 501) {
            LOG.log(Level.ERROR, requestId + " request failed: " + t, t);
        }
        return body(e);
    }

    static Response body(ApiError e) {
        ObjectNode root = Views.MAPPER.createObjectNode();
        ObjectNode err = root.putObject("error");
        err.put("field", e.field());
        err.put("rule", e.rule());
        err.put("message", e.getMessage());
        return Response.json(e.status(), root);
    }

    static ApiError classify(Throwable t) {
        if (t instanceof ApiError a) {
            return a;
        }
        if (t instanceof org.berth.agent.console.SessionRefused s) {
            return new ApiError(s.status(), s.field(), s.rule(), s.getMessage());
        }
        if (t instanceof FieldError f) {
            return new ApiError(400, f.field(), f.rule(), f.getMessage());
        }
        if (t instanceof InsufficientCapacity c) {
            return new ApiError(409, c.resource(), "capacity", c.getMessage());
        }
        if (t instanceof HostDisabled d) {
            return new ApiError(409, "host", "disabled", d.getMessage());
        }
        if (t instanceof PortConflict c) {
            return new ApiError(409, c.field(), "device_in_use", c.getMessage());
        }
        if (t instanceof org.berth.agent.task.MigrationConflict c) {
            return new ApiError(409, c.field(), c.rule(), c.getMessage());
        }
        if (t instanceof TaskConflict c) {
            return new ApiError(409, "task_state", "one_task_at_a_time", c.getMessage());
        }
        if (t instanceof DriverException d) {
            return switch (d) {
                case DriverException.InstanceNotFound x -> new ApiError(404, "uuid", "not_found", x.getMessage());
                case DriverException.InstanceExists x -> new ApiError(409, "uuid", "exists", x.getMessage());
                case DriverException.InvalidInstanceState x -> new ApiError(409, "power_state", "invalid_state", x.getMessage());
                case DriverException.BackendUnavailable x -> new ApiError(503, "driver", "backend_unavailable", x.getMessage());
                case DriverException.BackendFailure x -> new ApiError(502, "driver", "backend_failure", x.getMessage());
                case DriverException.OperationTimedOut x -> new ApiError(504, "driver", "timeout", x.getMessage());
                case DriverException.CapabilityMissing x -> new ApiError(501, "action", "capability_missing", x.getMessage());
                case DriverException.ImageNotFound x -> new ApiError(404, "image_id", "not_found", x.getMessage());
                case DriverException.ImageInvalid x -> new ApiError(400, "image_id", "image_invalid", x.getMessage());
                case DriverException.VifFailure x -> new ApiError(502, "vifs", "vif_failure", x.getMessage());
                case DriverException.InvalidConfiguration x -> new ApiError(400, x.option(), "invalid", x.getMessage());
                case DriverException.StateDirUnreachable x -> new ApiError(503, "driver", "backend_unavailable", x.getMessage());
            };
        }
        if (t instanceof IllegalArgumentException i) {
            String msg = String.valueOf(i.getMessage());
            int colon = msg.indexOf(": ");
            return new ApiError(400, colon > 0 ? msg.substring(0, colon) : "body", "invalid", msg);
        }
        if (t instanceof StoreException) {
            return new ApiError(500, "store", "store_failure", "the agent's store failed; see the agent log");
        }
        return new ApiError(500, "agent", "internal", "internal error; see the agent log");
    }
}
