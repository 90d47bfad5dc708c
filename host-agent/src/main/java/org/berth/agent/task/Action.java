package org.berth.agent.task;

import java.util.Set;
import org.berth.agent.store.VmState;
import org.berth.driver.api.Capability;
import org.berth.driver.api.RebootType;
import org.berth.driver.api.VifSpec;

/**
 * One instance action of POST /v1/instances/{uuid}/action: its Nova task_state name, the capability it needs and
 * the vm_states it is accepted in (empty = any).
 */
public record Action(String verb, String taskState, Capability capability, Set<VmState> allowedFrom,
                     RebootType rebootType, String snapshotName, VifSpec vif, String portId) {

    private Action(String verb, String taskState, Capability capability, Set<VmState> allowedFrom,
                   RebootType rebootType, String snapshotName) {
        this(verb, taskState, capability, allowedFrom, rebootType, snapshotName, null, null);
    }

    public static Action attachInterface(VifSpec vif) {
        return new Action("attach_interface", "attaching_interface", Capability.INTERFACE_HOTPLUG,
                Set.of(VmState.ACTIVE), null, null, vif, null);
    }

    public static Action detachInterface(String portId) {
        return new Action("detach_interface", "detaching_interface", Capability.INTERFACE_HOTPLUG, Set.of(),
                null, null, null, portId);
    }

    public static Action reboot(RebootType type) {
        return type == RebootType.HARD
                ? new Action("reboot", "rebooting_hard", null, Set.of(), type, null)
                : new Action("reboot", "rebooting", null, Set.of(VmState.ACTIVE), type, null);
    }

    public static Action pause() {
        return new Action("pause", "pausing", Capability.PAUSE, Set.of(VmState.ACTIVE, VmState.PAUSED), null, null);
    }

    public static Action unpause() {
        return new Action("unpause", "unpausing", Capability.PAUSE, Set.of(VmState.PAUSED), null, null);
    }

    public static Action suspend() {
        return new Action("suspend", "suspending", Capability.SUSPEND, Set.of(VmState.ACTIVE, VmState.PAUSED), null, null);
    }

    public static Action resume() {
        return new Action("resume", "resuming", Capability.SUSPEND, Set.of(VmState.SUSPENDED), null, null);
    }

    public static Action stop() {
        return new Action("stop", "powering-off", null, Set.of(), null, null);
    }

    public static Action start() {
        return new Action("start", "powering-on", null, Set.of(), null, null);
    }

    public static Action snapshot(String name) {
        return new Action("snapshot", "image_snapshot", Capability.SNAPSHOT, Set.of(), null, name);
    }
}
