package org.berth.ovs;

import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.DriverRegistry;
import org.berth.ovs.ovsdb.OvsdbEndpoint;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OvsVifConfigTest {
    @Test
    void autoDatapathFollowsTheKernelModule() {
        String expected = Files.isDirectory(Path.of("/sys/module/openvswitch")) ? "system" : "netdev";
        assertEquals(expected, OvsVifConfig.Datapath.AUTO.ovsValue());
        assertEquals("system", OvsVifConfig.Datapath.parse("System").ovsValue());
        assertEquals("netdev", OvsVifConfig.Datapath.parse("netdev").ovsValue());
        assertThrows(IllegalArgumentException.class, () -> OvsVifConfig.Datapath.parse("dpdk"));
    }

    @Test
    void endpointsParseBothForms() {
        assertTrue(OvsdbEndpoint.parse("unix:/var/run/openvswitch/db.sock").address()
                instanceof io.netty.channel.unix.DomainSocketAddress);
        assertEquals("tcp:[::1]:6640", OvsdbEndpoint.parse("tcp:[::1]:6640").toString());
        var e = assertThrows(IllegalArgumentException.class, () -> OvsdbEndpoint.parse("ssl:1.2.3.4:6640"));
        assertEquals("ovsdb endpoint 'ssl:1.2.3.4:6640' must be unix:PATH or tcp:HOST:PORT", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> OvsdbEndpoint.parse("tcp:host:99999"));
    }

    @Test
    void timeoutsMustBePositive() {
        var e = assertThrows(IllegalArgumentException.class, () -> new OvsVifConfig(OvsdbEndpoint.DEFAULT,
                OvsVifConfig.Datapath.AUTO, false, Duration.ZERO, Duration.ofSeconds(1), Duration.ofSeconds(1)));
        assertTrue(e.getMessage().startsWith("ovs.rpc_timeout must be a positive duration"), e.getMessage());
    }

    @Test
    void serviceLoaderFindsTheOvsPlugger() {
        var registry = DriverRegistry.load(OvsVifConfigTest.class.getClassLoader());
        assertEquals(List.of("ovs"), registry.vifPluggerNames());
        assertTrue(registry.vifPlugger("ovs") instanceof OvsVifPluggerProvider);
    }

    @Test
    void providerOptionsBecomeTheConfig() {
        assertEquals(OvsVifConfig.defaults(), OvsVifPluggerProvider.config(DriverConfig.empty("ovs")));
        OvsVifConfig c = OvsVifPluggerProvider.config(new DriverConfig("ovs", Map.of("ovsdb", "tcp:127.0.0.1:6640",
                "datapath", "netdev", "create_bridges", "true", "rpc_timeout", "2s", "ofport_timeout", "500ms",
                "command_timeout", "1m")));
        assertEquals(new OvsVifConfig("tcp:127.0.0.1:6640", OvsVifConfig.Datapath.NETDEV, true, Duration.ofSeconds(2),
                Duration.ofMillis(500), Duration.ofMinutes(1)), c);
        assertEquals(false, c.vethOffloads(), "netdev: veth offloads off by default");
        assertEquals(Path.of(OvsVifConfig.DEFAULT_REAPER_JOURNAL), c.reaperJournal());
        OvsVifConfig own = OvsVifPluggerProvider.config(new DriverConfig("ovs", Map.of("datapath", "netdev",
                "veth_offloads", "true", "reaper_journal", "/var/lib/berth-a/vif-reaper")));
        assertEquals(true, own.vethOffloads());
        assertEquals(Path.of("/var/lib/berth-a/vif-reaper"), own.reaperJournal());
        assertEquals(true, OvsVifPluggerProvider.config(new DriverConfig("ovs", Map.of("datapath", "system")))
                .vethOffloads(), "system: the kernel datapath keeps them");
        var j = assertThrows(DriverException.InvalidConfiguration.class,
                () -> OvsVifPluggerProvider.config(new DriverConfig("ovs", Map.of("reaper_journal", "rel/dir"))));
        assertEquals("drivers.ovs.reaper_journal", j.option());
        var e = assertThrows(DriverException.InvalidConfiguration.class,
                () -> OvsVifPluggerProvider.config(new DriverConfig("ovs", Map.of("ovsdb", "ssl:x"))));
        assertEquals("drivers.ovs.ovsdb", e.option());
        var f = assertThrows(DriverException.InvalidConfiguration.class,
                () -> OvsVifPluggerProvider.config(new DriverConfig("ovs", Map.of("create_bridges", "maybe"))));
        assertEquals("drivers.ovs.create_bridges", f.option());
    }
}
