package org.berth.driver.api;

import java.util.UUID;

/**
 * What the backend says about one instance, read from the backend on every call (the backend is the truth).
 *
 * @param uuid       the instance UUID
 * @param powerState the power state as the backend reports it, mapped to Nova's states
 * @param spec       the spec the instance was spawned with, as stored in the backend (plus hot-plugged VIFs)
 * @param backendId  the backend's own id (container id, libvirt domain name) for operators' diagnosis
 */
public record InstanceInfo(UUID uuid, PowerState powerState, InstanceSpec spec, String backendId) {
    public InstanceInfo {
        Check.notNull(uuid, "info.uuid");
        Check.notNull(powerState, "info.power_state");
        Check.notNull(spec, "info.spec");
        Check.notBlank(backendId, "info.backend_id");
        if (!spec.uuid().equals(uuid)) {
            throw new IllegalArgumentException("info.spec: uuid " + spec.uuid() + " differs from info.uuid " + uuid);
        }
    }
}
