package org.berth.ovs;

import java.nio.file.Path;
import java.time.Duration;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifPluggerProvider;
import org.berth.ovs.ovsdb.OvsdbEndpoint;

/**
 * The {@code ovs} VIF plugger, found by {@link java.util.ServiceLoader}. Options: {@code ovsdb}
 * ({@code unix:PATH} or {@code tcp:HOST:PORT}), {@code datapath} (system, netdev, auto), {@code create_bridges}
 * (true, false), {@code rpc_timeout}, {@code ofport_timeout}, {@code command_timeout}, {@code veth_offloads}
 * (true, false; default: false on the netdev datapath), {@code reaper_journal} (a directory); defaults as
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
        OvsVifConfig.Datapath datapath = config.choice("datapath", OvsVifConfig.Datapath.class, d.datapath());
        String journal = config.string("reaper_journal", d.reaperJournal().toString());
        if (!journal.startsWith("/")) {
            throw new DriverException.InvalidConfiguration("drivers." + config.driver() + ".reaper_journal", journal,
                    "must be an absolute directory path");
        }
        return new OvsVifConfig(ovsdb, datapath,
                flag(config, "create_bridges", d.createBridges()),
                config.duration("rpc_timeout", d.rpcTimeout(), MAX_TIMEOUT),
                config.duration("ofport_timeout", d.ofportTimeout(), MAX_TIMEOUT),
                config.duration("command_timeout", d.commandTimeout(), MAX_TIMEOUT),
                flag(config, "veth_offloads", OvsVifConfig.defaultVethOffloads(datapath)),
                Path.of(journal));
    }

    private static boolean flag(DriverConfig config, String option, boolean fallback) {
        return config.choice(option, Flag.class, fallback ? Flag.TRUE : Flag.FALSE) == Flag.TRUE;
    }
}
