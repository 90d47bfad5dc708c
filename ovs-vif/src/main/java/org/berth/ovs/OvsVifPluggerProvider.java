package org.berth.ovs;

import java.time.Duration;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifPluggerProvider;
import org.berth.ovs.ovsdb.OvsdbEndpoint;

/**
 * The {@code ovs} VIF plugger, found by {@link java.util.ServiceLoader}. Options: {@code ovsdb}
 * ({@code unix:PATH} or {@code tcp:HOST:PORT}), {@code datapath} (system, netdev, auto), {@code create_bridges}
 * (true, false), {@code rpc_timeout}, {@code ofport_timeout}, {@code command_timeout}; defaults as
 * {@link OvsVifConfig#defaults()}.
 */
public final class OvsVifPluggerProvider implements VifPluggerProvider {
    static final String NAME = "ovs";
    private static final Duration MAX_TIMEOUT = Duration.ofMinutes(10);

    /** On/off options as {@link DriverConfig#choice} reads them. */
    private enum Flag { TRUE, FALSE }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public VifPlugger create(DriverConfig config) {
        return OvsVifPlugger.connect(config(config));
    }

    /** The plugger's configuration from its options; an invalid one names the option. */
    static OvsVifConfig config(DriverConfig config) {
        OvsVifConfig d = OvsVifConfig.defaults();
        String ovsdb = config.string("ovsdb", d.ovsdb());
        try {
            OvsdbEndpoint.parse(ovsdb);
        } catch (IllegalArgumentException e) {
            throw new DriverException.InvalidConfiguration("drivers." + config.driver() + ".ovsdb", ovsdb, "must be unix:PATH or tcp:HOST:PORT");
        }
        return new OvsVifConfig(ovsdb,
                config.choice("datapath", OvsVifConfig.Datapath.class, d.datapath()),
                config.choice("create_bridges", Flag.class, d.createBridges() ? Flag.TRUE : Flag.FALSE) == Flag.TRUE,
                config.duration("rpc_timeout", d.rpcTimeout(), MAX_TIMEOUT),
                config.duration("ofport_timeout", d.ofportTimeout(), MAX_TIMEOUT),
                config.duration("command_timeout", d.commandTimeout(), MAX_TIMEOUT));
    }
}
