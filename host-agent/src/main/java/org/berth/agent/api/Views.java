package org.berth.agent.api;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Base64;
import java.util.Locale;
import org.berth.agent.capacity.Capacity;
import org.berth.agent.capacity.HostStatus;
import org.berth.agent.placement.ReportState;
import org.berth.agent.driver.DriverState;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.StoredEvent;
import org.berth.driver.api.Capability;
import org.berth.driver.api.Image;

/** JSON views of the agent's values (snake_case, as Nova's API). */
final class Views {
    static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Views() {
    }

    static byte[] bytes(Object tree) {
        try {
            return MAPPER.writeValueAsBytes(tree);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode parse(byte[] body) {
        if (body.length == 0) {
            throw new ApiError(400, "body", "required", "body: a JSON object is required");
        }
        try {
            return MAPPER.readTree(body);
        } catch (IOException e) {
            String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw new ApiError(400, "body", "json", "body: not valid JSON: " + m);
        }
    }

    /** One instance, user data included (as Nova's server show gives it to an admin: moves carry it along). */
    static ObjectNode instance(InstanceRecord r) {
        return instance(r, true);
    }

    /**
     * One instance; {@code withUserData} false (the list) replaces the user data by {@code user_data_bytes}: up to
     * 87 KB of base64 per instance, often with secrets, has no place in a list that is polled.
     */
    static ObjectNode instance(InstanceRecord r, boolean withUserData) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("uuid", r.uuid().toString()).put("name", r.name()).put("driver", r.driver())
                .put("vm_state", r.vmState().apiName()).put("power_state", r.powerState().name())
                .put("power_state_code", r.powerState().code()).put("task_state", r.taskState())
                .put("fault", r.fault()).put("backend_id", r.backendId())
                .put("created_at", r.createdAt().toString()).put("updated_at", r.updatedAt().toString());
        if (r.migration() == null) {
            n.putNull("migration");
        } else {
            n.set("migration", r.migration().toJson());
        }
        try {
            JsonNode spec = MAPPER.readTree(r.specJson());
            if (!withUserData && spec instanceof ObjectNode o && o.has("user_data")) {
                int bytes = Base64.getMimeDecoder().decode(o.remove("user_data").asText()).length;
                o.put("user_data_bytes", bytes);
            }
            n.set("spec", spec);
        } catch (IOException | IllegalArgumentException e) {
            n.putNull("spec");
        }
        return n;
    }

    static ObjectNode event(StoredEvent e) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("id", e.id()).put("uuid", e.uuid().toString()).put("request_id", e.requestId()).put("kind", e.kind())
                .put("detail", e.detail()).put("at", e.at().toString());
        return n;
    }

    static ObjectNode driver(DriverState s) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("name", s.name()).put("version", s.version()).put("available", s.available())
                .put("error", s.error()).put("connect_attempts", s.attempts())
                .put("next_retry", s.nextRetry() == null ? null : s.nextRetry().toString());
        if (s.info() != null) {
            n.put("hypervisor_type", s.info().hypervisorType());
            ArrayNode caps = n.putArray("capabilities");
            for (Capability c : Capability.values()) {
                if (s.info().has(c)) {
                    caps.add(c.name().toLowerCase(Locale.ROOT));
                }
            }
            ArrayNode formats = n.putArray("image_formats");
            s.info().imageFormats().forEach(f -> formats.addObject().put("disk_format", f.diskFormat().glanceName())
                    .put("container_format", f.containerFormat().glanceName()));
        }
        return n;
    }

    static ObjectNode image(Image i, boolean agentOwned) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("id", i.id()).put("name", i.name()).put("disk_format", i.diskFormat().glanceName())
                .put("container_format", i.containerFormat().glanceName()).put("sha256", i.sha256())
                .put("size", i.size()).put("agent_owned", agentOwned);
        ObjectNode p = n.putObject("properties");
        i.properties().forEach(p::put);
        return n;
    }

    static ObjectNode host(Capacity c, double cpuRatio, double ramRatio, double diskRatio, long reservedMb) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("hypervisor_hostname", c.totals().hostname());
        ArrayNode hv = n.putArray("hypervisors");
        c.hypervisors().forEach(h -> hv.addObject().put("driver", h.driver()).put("hypervisor_type", h.type())
                .put("hypervisor_version", h.version()));
        ObjectNode cpu = n.putObject("cpu_info");
        cpu.put("arch", c.totals().cpuInfo().arch()).put("model", c.totals().cpuInfo().model())
                .put("vendor", c.totals().cpuInfo().vendor());
        cpu.putObject("topology").put("sockets", c.totals().cpuInfo().sockets())
                .put("cores", c.totals().cpuInfo().cores()).put("threads", c.totals().cpuInfo().threads());
        n.put("totals_from", c.totals().source());
        n.put("vcpus", c.totals().vcpus()).put("memory_mb", c.totals().memoryMb()).put("local_gb", c.totals().localGb());
        n.put("vcpus_used", c.driverUsed().vcpus()).put("memory_mb_used", c.driverUsed().memoryMb())
                .put("local_gb_used", c.driverUsed().diskGb()).put("running_vms", c.runningInstances());
        n.putObject("allocation").put("cpu_allocation_ratio", cpuRatio).put("ram_allocation_ratio", ramRatio)
                .put("disk_allocation_ratio", diskRatio).put("reserved_host_memory_mb", reservedMb);
        resources(n.putObject("limits"), c.limits());
        resources(n.putObject("claimed"), c.claimed());
        resources(n.putObject("free"), c.free());
        return n;
    }

    /** The service status (Nova's os-services) and the Placement report, added to a host view. */
    static void status(ObjectNode n, HostStatus.Status s, String host, ReportState p) {
        n.put("host", host).put("status", s.disabled() ? "disabled" : "enabled").put("disabled_reason", s.disabledReason());
        ObjectNode pl = n.putObject("placement");
        pl.put("state", p.state()).put("resource_provider_uuid", p.providerUuid() == null ? null : p.providerUuid().toString())
                .put("last_success", p.lastSuccess() == null ? null : p.lastSuccess().toString())
                .put("last_error", p.lastError()).put("behind_seconds", p.behindSeconds())
                .put("pending_changes", p.pendingChanges()).put("syncs", p.syncs()).put("reads", p.reads())
                .put("writes", p.writes());
    }

    private static void resources(ObjectNode n, Capacity.Resources r) {
        n.put("vcpus", r.vcpus()).put("memory_mb", r.memoryMb()).put("disk_gb", r.diskGb());
    }
}
