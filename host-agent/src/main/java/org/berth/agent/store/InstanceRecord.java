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
 * @param migration this host's side of a cold migration/resize in progress, or null
 */
public record InstanceRecord(UUID uuid, String name, String driver, String specJson, int vcpus, long memoryMb,
                             long diskGb, VmState vmState, PowerState powerState, String taskState,
                             String backendId, String fault, Instant createdAt, Instant updatedAt,
                             Migration migration) {

    public InstanceRecord(UUID uuid, String name, String driver, String specJson, int vcpus, long memoryMb,
                          long diskGb, VmState vmState, PowerState powerState, String taskState,
                          String backendId, String fault, Instant createdAt, Instant updatedAt) {
        this(uuid, name, driver, specJson, vcpus, memoryMb, diskGb, vmState, powerState, taskState, backendId, fault,
                createdAt, updatedAt, null);
    }

    public InstanceRecord withMigration(Migration m) {
        return new InstanceRecord(uuid, name, driver, specJson, vcpus, memoryMb, diskGb, vmState, powerState,
                taskState, backendId, fault, createdAt, Instant.now(), m);
    }

    /** The spec and the flavor's claim (vcpus, memory, disk) from a new spec (a rebuild or a revert). */
    public InstanceRecord withSpec(String json, int newVcpus, long newMemoryMb, long newDiskGb) {
        return new InstanceRecord(uuid, name, driver, json, newVcpus, newMemoryMb, newDiskGb, vmState, powerState,
                taskState, backendId, fault, createdAt, Instant.now(), migration);
    }

    /** The consumer Placement holds this record's usage under: the migration's id on a migration's source. */
    public UUID consumer() {
        return migration != null && migration.role() == Migration.Role.SOURCE ? migration.id() : uuid;
    }

    public InstanceRecord withState(VmState vm, PowerState power) {
        return new InstanceRecord(uuid, name, driver, specJson, vcpus, memoryMb, diskGb, vm, power, taskState,
                backendId, fault, createdAt, Instant.now(), migration);
    }

    public InstanceRecord withTask(String task) {
        return new InstanceRecord(uuid, name, driver, specJson, vcpus, memoryMb, diskGb, vmState, powerState, task,
                backendId, fault, createdAt, Instant.now(), migration);
    }

    public InstanceRecord withFault(String newFault) {
        return new InstanceRecord(uuid, name, driver, specJson, vcpus, memoryMb, diskGb, vmState, powerState,
                taskState, backendId, newFault, createdAt, Instant.now(), migration);
    }

    public InstanceRecord withBackendId(String id) {
        return new InstanceRecord(uuid, name, driver, specJson, vcpus, memoryMb, diskGb, vmState, powerState,
                taskState, id, fault, createdAt, Instant.now(), migration);
    }

    /** The spec as the backend now has it (hot-plugged VIFs included). */
    public InstanceRecord withSpecJson(String json) {
        return new InstanceRecord(uuid, name, driver, json, vcpus, memoryMb, diskGb, vmState, powerState,
                taskState, backendId, fault, createdAt, Instant.now(), migration);
    }

    public boolean deleted() {
        return vmState == VmState.DELETED;
    }
}
