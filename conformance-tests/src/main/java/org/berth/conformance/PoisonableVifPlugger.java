package org.berth.conformance;

import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;

/**
 * The kit's {@link VifPlugger}: delegates to a real one when the run has it, and fails on purpose for ports the
 * test poisoned, so a spawn can be made to fail half way (after the driver created its disk or container): either
 * the plug itself, or only the wait for the switch to attach (the plug is real, the instance may have started).
 */
public final class PoisonableVifPlugger implements VifPlugger {
    private final Optional<VifPlugger> backend;
    private final Set<String> poisoned = ConcurrentHashMap.newKeySet();
    private final Set<String> unattachable = ConcurrentHashMap.newKeySet();

    PoisonableVifPlugger(Optional<VifPlugger> backend) {
        this.backend = backend;
    }

    /** Plugging {@code portId} will fail with {@link DriverException.VifFailure}. */
    public void poison(String portId) {
        poisoned.add(portId);
    }

    /** Plugging {@code portId} works (for real); {@link #awaitAttached} for it fails with VifFailure. */
    public void poisonAttach(String portId) {
        unattachable.add(portId);
    }

    public boolean hasBackend() {
        return backend.isPresent();
    }

    private VifPlugger backend(VifSpec vif) {
        if (poisoned.contains(vif.portId())) {
            throw new DriverException.VifFailure(vif.portId(), "plug refused on purpose by the conformance kit", null);
        }
        return backend.orElseThrow(() ->
                new DriverException.VifFailure(vif.portId(), "no VIF backend in this conformance run", null));
    }

    @Override
    public String plugTap(UUID instance, VifSpec vif) {
        return backend(vif).plugTap(instance, vif);
    }

    @Override
    public void plugNamespace(UUID instance, VifSpec vif, long pid, String ifName) {
        backend(vif).plugNamespace(instance, vif, pid, ifName);
    }

    @Override
    public void awaitAttached(UUID instance, VifSpec vif) {
        if (unattachable.contains(vif.portId())) {
            throw new DriverException.VifFailure(vif.portId(), "the switch did not attach it (conformance kit, on purpose)",
                    null);
        }
        backend(vif).awaitAttached(instance, vif);
    }

    @Override
    public void unplug(UUID instance, VifSpec vif) {
        backend.ifPresent(b -> b.unplug(instance, vif));
    }
}
