package org.berth.agent.store;

import java.time.Instant;
import java.util.UUID;
import org.berth.driver.api.PowerState;

/**
 * What the agent keeps about one instance; written before acting on the backend.
 *
 * @param specJson  the spec as the API accepted it (see SpecJson)
 * @param taskState the running task (spawning, deleting, rebooting, ...) or null when idle
 * @param fault     the last error, or null
 */
public record InstanceRecord(UUID uuid, String name, String driver, String specJson, int vcpus, long memoryMb,
                             long diskGb, VmState vmState, PowerState powerState, String taskState,
                             String backendId, String fault, Instant createdAt, Instant updatedAt) {

    public InstanceRecord withState(VmState vm, PowerState power) {
        return new InstanceRecord(uuid, name, driver, specJson, vcpus, memoryMb, diskGb, vm, power, taskState,
                backendId, fault, createdAt, Instant.now());
    }

    public InstanceRecord withTask(String task) {
        return new InstanceRecord(uuid, name, driver, specJson, vcpus, memoryMb, diskGb, vmState, powerState, task,
                backendId, fault, createdAt, Instant.now());
    }

    public InstanceRecord withFault(String newFault) {
        return new InstanceRecord(uuid, name, driver, specJson, vcpus, memoryMb, diskGb, vmState, powerState,
                taskState, backendId, newFault, createdAt, Instant.now());
    }

    public InstanceRecord withBackendId(String id) {
        return new InstanceRecord(uuid, name, driver, specJson, vcpus, memoryMb, diskGb, vmState, powerState,
                taskState, id, fault, createdAt, Instant.now());
    }

    /** The spec as the backend now has it (hot-plugged VIFs included). */
    public InstanceRecord withSpecJson(String json) {
        return new InstanceRecord(uuid, name, driver, json, vcpus, memoryMb, diskGb, vmState, powerState,
                taskState, backendId, fault, createdAt, Instant.now());
    }

    public boolean deleted() {
        return vmState == VmState.DELETED;
    }
}
