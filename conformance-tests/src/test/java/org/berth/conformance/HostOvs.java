package org.berth.conformance;

import org.berth.ovs.OvsVifConfig;
import org.berth.ovs.OvsVifPlugger;

/**
 * The real OVS plugger (ovs-vif, the host's ovsdb-server), one per test JVM and closed at its exit. {@link Harness}
 * keeps one harness per driver for the whole JVM, holding the plugger it was first given: every test class hands it
 * this one, and none closes it (a class that closed its own would leave the next class a dead plugger). The bridge
 * is each VIF's own ({@code VifSpec.bridge}), so one plugger serves br-int and a test's own bridges alike.
 */
public final class HostOvs {
    private HostOvs() {
    }

    public static OvsVifPlugger plugger() {
        return Holder.PLUGGER;
    }

    private static final class Holder {
        static final OvsVifPlugger PLUGGER = OvsVifPlugger.connect(OvsVifConfig.defaults());

        static {
            Runtime.getRuntime().addShutdownHook(new Thread(PLUGGER::close, "berth-ovs-close"));
        }
    }
}
