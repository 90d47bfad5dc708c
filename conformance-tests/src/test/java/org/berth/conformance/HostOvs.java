package org.berth.conformance;

import org.berth.driver.api.DriverRegistry;
import org.berth.ovs.OvsVifPlugger;

/**
 * The real OVS plugger (ovs-vif's {@code ovs}, the host's ovsdb-server) as the e2e tests want it: the very instance
 * {@link VifBackends} opens for the conformance kit, one per test JVM and closed at its exit. {@link Harness} keeps
 * one harness per driver for the whole JVM, holding the plugger it was first given, so every test class must hand it
 * this one and none may close it. The bridge is each VIF's own ({@code VifSpec.bridge}), so one plugger serves br-int
 * and a test's own bridges alike.
 */
public final class HostOvs {
    private HostOvs() {
    }

    public static OvsVifPlugger plugger() {
        return Holder.PLUGGER;
    }

    private static final class Holder {
        static final OvsVifPlugger PLUGGER = (OvsVifPlugger) VifBackends.open(
                DriverRegistry.load(HostOvs.class.getClassLoader()).vifPlugger("ovs"));
    }
}
