package org.berth.agent.driver;

import java.time.Duration;
import java.util.UUID;
import org.berth.agent.vif.OvnChassis;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;
import org.berth.ovs.OvsVifConfig;
import org.berth.ovs.OvsVifPlugger;

/**
 * Connects to ovsdb-server on first use and again after a failed connect, so an OVS outage at agent start only
 * fails the instances that have VIFs (with BackendUnavailable) instead of the agent.
 */
final class LazyOvsPlugger implements VifPlugger, OvnChassis, AutoCloseable {
    private final OvsVifConfig config;
    private OvsVifPlugger delegate;

    LazyOvsPlugger(OvsVifConfig config) {
        this.config = config;
    }

    private synchronized OvsVifPlugger plugger() {
        if (delegate == null) {
            delegate = OvsVifPlugger.connect(config);
        }
        return delegate;
    }

    @Override
    public String plugTap(UUID instance, VifSpec vif) {
        return plugger().plugTap(instance, vif);
    }

    @Override
    public void plugNamespace(UUID instance, VifSpec vif, long pid, String ifName) {
        plugger().plugNamespace(instance, vif, pid, ifName);
    }

    @Override
    public void awaitAttached(UUID instance, VifSpec vif) {
        plugger().awaitAttached(instance, vif);
    }

    @Override
    public boolean isOvnChassis() {
        return plugger().isOvnChassis();
    }

    @Override
    public Duration awaitBound(VifSpec vif, Duration timeout) {
        return plugger().awaitBound(vif, timeout);
    }

    @Override
    public void unplug(UUID instance, VifSpec vif) {
        plugger().unplug(instance, vif);
    }

    @Override
    public synchronized void close() {
        if (delegate != null) {
            delegate.close();
            delegate = null;
        }
    }
}
