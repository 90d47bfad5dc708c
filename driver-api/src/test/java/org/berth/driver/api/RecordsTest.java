package org.berth.driver.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Records validate in their constructors; every message names the field and the rule. */
class RecordsTest {
    private static final String PORT = "3f0b8e3c-1a2b-4c5d-8e9f-0a1b2c3d4e5f";
    private static final String IMAGE = "6c1e3f0a-2b4d-4e5f-9a7b-8c9d0e1f2a3b";

    private static void rejects(String field, String rule, Executable e) {
        var ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().startsWith(field + ":"), () -> "names the field " + field + ": " + ex.getMessage());
        assertTrue(ex.getMessage().contains(rule), () -> "states the rule '" + rule + "': " + ex.getMessage());
    }

    @Test
    void execSpecNamesTheFieldAndTheRule() {
        rejects("exec.command", "at least 1", () -> new ExecSpec(List.of(), Map.of(), Optional.empty(), false, 80, 24));
        rejects("exec.command[0]", "must not be empty", () -> ExecSpec.of(""));
        rejects("exec.command[1]", "NUL", () -> ExecSpec.of("sh", "a\0b"));
        rejects("exec.command", "at most 256", () -> ExecSpec.of(java.util.Collections.nCopies(257, "x").toArray(String[]::new)));
        rejects("exec.command", "at most 65536", () -> ExecSpec.of("sh", "x".repeat(70_000)));
        rejects("exec.env", "not start with a digit", () -> new ExecSpec(List.of("sh"), Map.of("1X", "v"),
                Optional.empty(), false, 80, 24));
        rejects("exec.working_dir", "absolute", () -> new ExecSpec(List.of("sh"), Map.of(), Optional.of("tmp"),
                false, 80, 24));
        rejects("exec.columns", "between 1 and 1000", () -> ExecSpec.of("sh").withTty(0, 24));
        ExecSpec ok = ExecSpec.of("sh", "-c", "exit 3").withTty(120, 40);
        assertEquals(List.of("sh", "-c", "exit 3"), ok.argv());
        assertTrue(ok.tty());
        assertEquals(120, ok.columns());
    }

    @Test
    void flavorRejectsNegativeAndEmpty() {
        rejects("flavor.memory_mb", "between 16", () -> new Flavor("m1", 1, -1, 1, 0, 0));
        rejects("flavor.vcpus", "between 1", () -> new Flavor("m1", 0, 512, 1, 0, 0));
        rejects("flavor.name", "must not be empty", () -> new Flavor(" ", 1, 512, 1, 0, 0));
        rejects("flavor.name", "must be given", () -> new Flavor(null, 1, 512, 1, 0, 0));
        assertEquals(512, Flavor.tiny().memoryMb());
    }

    @Test
    void vifRejectsBadMacUuidMtuVlan() {
        rejects("vif.mac", "six hex pairs", () -> VifSpec.of(PORT, "fa:16:3e:12:34"));
        rejects("vif.mac", "multicast", () -> VifSpec.of(PORT, "01:00:5e:00:00:01"));
        rejects("vif.port_id", "must be a UUID", () -> VifSpec.of("not-a-uuid", "fa:16:3e:12:34:56"));
        rejects("vif.port_id", "must be a UUID", () -> VifSpec.of("1-1-1-1-1", "fa:16:3e:12:34:56"));
        rejects("vif.mtu", "between 68 and 65535", () -> new VifSpec(PORT, "fa:16:3e:12:34:56", "br-int", 65536,
                Optional.empty(), List.of(), Optional.empty()));
        rejects("vif.vlan", "between 1 and 4094", () -> new VifSpec(PORT, "fa:16:3e:12:34:56", "br-int", 1500,
                Optional.of(4095), List.of(), Optional.empty()));
        rejects("vif.bridge", "1-15 characters", () -> new VifSpec(PORT, "fa:16:3e:12:34:56", "br;rm -rf", 1500,
                Optional.empty(), List.of(), Optional.empty()));
    }

    @Test
    void vifNamesFollowNovaAndOsVif() {
        VifSpec vif = VifSpec.of(PORT.toUpperCase(), "FA:16:3E:12:34:56");
        assertEquals("tap3f0b8e3c-1a", vif.devName());
        assertEquals("ns3f0b8e3c-1a", vif.nsDevName());
        assertTrue(vif.devName().length() <= 14, "Linux allows 15 characters");
        assertEquals("fa:16:3e:12:34:56", vif.mac());
    }

    @Test
    void ipAddressesAreLiteralAndNeverLookedUp() {
        assertEquals("198.18.0.10/24", IpAddress.parseCidr("198.18.0.10/24", "ip").toString());
        rejects("vif.ips[0]", "is not an IPv4 or IPv6 address", () -> IpAddress.parseCidr("example.com/24", "vif.ips[0]"));
        rejects("ip", "octet over 255", () -> IpAddress.parseCidr("198.18.0.300/24", "ip"));
        rejects("ip", "prefix length 33", () -> IpAddress.parseCidr("198.18.0.1/33", "ip"));
        assertEquals(64, IpAddress.parseCidr("fd00::1/64", "ip").prefixLength());
    }

    @Test
    void instanceSpecRejectsDuplicatesAndBadProperties() {
        UUID uuid = UUID.randomUUID();
        VifSpec a = VifSpec.of(PORT, "fa:16:3e:12:34:56");
        rejects("instance.vifs", "appears twice", () -> InstanceSpec.of(uuid, "vm", Flavor.tiny(), IMAGE).withVifs(List.of(a, a)));
        rejects("instance.image_id", "must be a UUID", () -> InstanceSpec.of(uuid, "vm", Flavor.tiny(), "cirros"));
        rejects("instance.properties", "key 'Bad Key'", () -> InstanceSpec.of(uuid, "vm", Flavor.tiny(), IMAGE)
                .withProperties(Map.of("Bad Key", "x")));
        rejects("instance.name", "1-255 characters", () -> InstanceSpec.of(uuid, "<script>", Flavor.tiny(), IMAGE));
        assertEquals("berth-" + uuid, InstanceSpec.of(uuid, "vm", Flavor.tiny(), IMAGE).backendName());
    }

    @Test
    void powerStatesKeepNovasCodes() {
        assertEquals(0, PowerState.NOSTATE.code());
        assertEquals(1, PowerState.RUNNING.code());
        assertEquals(3, PowerState.PAUSED.code());
        assertEquals(4, PowerState.SHUTDOWN.code());
        assertEquals(6, PowerState.CRASHED.code());
        assertEquals(7, PowerState.SUSPENDED.code());
        assertEquals(PowerState.SUSPENDED, PowerState.ofCode(7));
        assertThrows(IllegalArgumentException.class, () -> PowerState.ofCode(2));
    }

    @Test
    void hypervisorVersionIsNovasInteger() {
        assertEquals(7_002_000L, HostResources.versionNumber("7.2.0"));
        assertEquals(20_010_024L, HostResources.versionNumber("20.10.24"));
        assertEquals(9_000_000L, HostResources.versionNumber("9.0"));
    }

    @Test
    void driverConfigNamesTheOptionInErrors() {
        var config = new DriverConfig("kvm", Map.of("call_timeout", "soon", "virt_type", "xen", "retries", "99"));
        var e = assertThrows(DriverException.InvalidConfiguration.class,
                () -> config.duration("call_timeout", Duration.ofSeconds(30), Duration.ofMinutes(10)));
        assertEquals("drivers.kvm.call_timeout", e.option());
        enum VirtType { KVM, QEMU, AUTO }
        var e2 = assertThrows(DriverException.InvalidConfiguration.class,
                () -> config.choice("virt_type", VirtType.class, VirtType.AUTO));
        assertTrue(e2.getMessage().contains("kvm | qemu | auto"), e2.getMessage());
        assertThrows(DriverException.InvalidConfiguration.class, () -> config.integer("retries", 3, 0, 10));
        assertEquals(Duration.ofMillis(500), new DriverConfig("kvm", Map.of("t", "500ms"))
                .duration("t", Duration.ZERO.plusSeconds(1), Duration.ofMinutes(1)));
    }

    @Test
    void exceptionsCarryTheirData() {
        UUID uuid = UUID.randomUUID();
        DriverException e = new DriverException.InvalidInstanceState(uuid, "unpause", PowerState.RUNNING);
        String described = switch (e) {
            case DriverException.InvalidInstanceState s -> s.operation() + " found " + s.found();
            case DriverException.InstanceNotFound n -> "gone";
            default -> "other";
        };
        assertEquals("unpause found RUNNING", described);
        assertTrue(e.getMessage().contains(uuid.toString()) && e.getMessage().contains("RUNNING"));
    }

    @Test
    void driverContextOwnerIsValidatedAndScopesInstances() {
        // The context only holds the store: a proxy that refuses every call is enough.
        ImageStore images = (ImageStore) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {ImageStore.class}, (proxy, method, args) -> {
                    throw new UnsupportedOperationException(method.getName());
                });
        java.nio.file.Path dir = java.nio.file.Path.of("/tmp");
        var ctx = new DriverContext(DriverConfig.empty("x"), images, Optional.empty(), EventSink.DISCARD, dir);
        assertEquals(DriverContext.DEFAULT_OWNER, ctx.owner());
        assertTrue(ctx.owns(null) && ctx.owns("") && ctx.owns("berth"), "no owner mark is the default owner's");
        var kit = ctx.withOwner("berth-conformance");
        assertTrue(kit.owns("berth-conformance"));
        assertTrue(!kit.owns(null) && !kit.owns("berth"), "the default owner's instances are not the kit's");
        for (String bad : List.of("", "Agent", "-x", "a b", "x".repeat(64), "a/b")) {
            var e = assertThrows(IllegalArgumentException.class, () -> ctx.withOwner(bad), bad);
            assertTrue(e.getMessage().startsWith("context.owner: "), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> ctx.withOwner(null));
    }
}
