package org.berth.driver.docker;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;

/** A {@link VifPlugger} that records calls (and can refuse one port), for the driver's own plug logic. */
final class RecordingPlugger implements VifPlugger {
    record Call(String verb, UUID instance, String portId, long pid, String ifName) {
    }

    final List<Call> calls = new CopyOnWriteArrayList<>();
    private final String failingPort;

    RecordingPlugger(String failingPort) {
        this.failingPort = failingPort;
    }

    @Override
    public String plugTap(UUID instance, VifSpec vif) {
        throw new UnsupportedOperationException("containers never plug a tap");
    }

    @Override
    public void plugNamespace(UUID instance, VifSpec vif, long pid, String ifName) {
        if (vif.portId().equals(failingPort)) {
            throw new DriverException.VifFailure(vif.portId(), "injected failure", null);
        }
        calls.add(new Call("plug", instance, vif.portId(), pid, ifName));
    }

    @Override
    public void awaitAttached(UUID instance, VifSpec vif) {
        calls.add(new Call("attached", instance, vif.portId(), 0, ""));
    }

    @Override
    public void unplug(UUID instance, VifSpec vif) {
        calls.add(new Call("unplug", instance, vif.portId(), 0, ""));
    }

    List<Call> of(String verb) {
        return calls.stream().filter(c -> c.verb().equals(verb)).toList();
    }
}
