package org.berth.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.berth.conformance.fault.WedgedSocket;
import org.berth.conformance.host.HostCommand;
import org.berth.conformance.leak.LeakCheck;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.ExecSpec;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.GuestConfig;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageFormat;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.InstanceStream;
import org.berth.driver.api.LifecycleEvent;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.RebootType;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The driver contract of DESIGN.md as tests. A backend proves itself by a subclass that names its provider:
 * <pre>{@code class MyDriverConformanceTest extends ComputeDriverConformance {
 *     protected ComputeDriverProvider provider() { return new MyDriverProvider(); } }}</pre>
 * Tests of optional features are skipped only when the driver does not declare the capability. After every test
 * the kit destroys what the test spawned and then looks at the host itself for anything left (containers,
 * domains, taps/veths, OVS ports, files in the state directory); any leftover fails the test, named.
 *
 * <p>Timeouts: {@code -Dberth.conformance.op_timeout} (seconds, default 180) bounds every driver call;
 * {@code -Dberth.conformance.power_off_timeout} (seconds, default 15) is the graceful part of power off;
 * {@code -Dberth.conformance.noop_timeout} (seconds, default 60) bounds an answer that needs no state change.
 * VIF tests address instances in {@code -Dberth.conformance.vif_subnet} (default {@code 198.18.7}, a /24).
 */
public abstract class ComputeDriverConformance {
    private static final Duration OP_TIMEOUT =
            Duration.ofSeconds(Long.getLong("berth.conformance.op_timeout", 180));
    private static final Duration POWER_OFF_TIMEOUT =
            Duration.ofSeconds(Long.getLong("berth.conformance.power_off_timeout", 15));
    private static final Duration CONSOLE_WAIT = Duration.ofSeconds(90);
    private static final int PARALLEL_INSTANCES = Integer.getInteger("berth.conformance.parallel_instances", 3);
    /** Bound of an answer that needs no state change (already in state, destroy of nothing). */
    private static final Duration NOOP_TIMEOUT =
            Duration.ofSeconds(Long.getLong("berth.conformance.noop_timeout", 60));
    /** The call timeout the wedged-backend test configures; each call may take a few of them, plus slack. */
    private static final Duration WEDGED_CALL_TIMEOUT = Duration.ofSeconds(2);
    private static final Duration WEDGED_ALLOWED = WEDGED_CALL_TIMEOUT.multipliedBy(4).plusSeconds(10);
    /** First three octets of the /24 (inside 198.18.0.0/15) the VIF tests address their instances in. */
    private static final String VIF_SUBNET = System.getProperty("berth.conformance.vif_subnet", "198.18.7");
    private static final Duration EVENT_WAIT = Duration.ofSeconds(30);
    /** How long the lifecycle test listens after the last expected event for events that should not come. */
    private static final Duration EVENT_QUIET = Duration.ofSeconds(3);

    private final List<UUID> spawned = new CopyOnWriteArrayList<>();
    private final List<String> ports = new CopyOnWriteArrayList<>();
    /** The VIFs this test handed to the driver, unplugged by the kit itself when the driver leaked them. */
    private final List<VifSpec> vifs = new CopyOnWriteArrayList<>();
    private final List<String> snapshots = new CopyOnWriteArrayList<>();
    private Harness harness;

    /** The provider of the driver under test. */
    protected abstract ComputeDriverProvider provider();

    /** A real VIF plugger for tests that plug interfaces; empty (the default) skips VIF plugging. */
    protected Optional<VifPlugger> vifBackend() {
        return Optional.empty();
    }

    @BeforeEach
    final void openHarness() {
        harness = Harness.of(provider(), vifBackend());
    }

    @AfterEach
    final void destroyAndCheckForLeaks() {
        var problems = new ArrayList<String>();
        // Images first, as an operator deletes a snapshot before its last instance: drivers that cache images
        // (the docker engine) drop the cached copy when the last instance of a deleted image goes.
        for (String id : snapshots) {
            harness.images().delete(id);
        }
        for (UUID uuid : spawned) {
            try {
                call("destroy " + uuid, () -> {
                    driver().destroy(uuid);
                    return null;
                });
            } catch (Throwable t) {
                problems.add("destroy " + uuid + " failed: " + t);
            }
        }
        List<String> leaks = LeakCheck.leftovers(spawned, ports, harness.stateDir());
        leaks.forEach(l -> problems.add("leaked " + l));
        if (!leaks.isEmpty()) {
            mopUpVifs(problems);
        }
        if (!problems.isEmpty()) {
            fail("contract 'destroy removes every host artefact' broken by driver " + harness.info().name()
                    + ":\n  " + String.join("\n  ", problems));
        }
    }

    /**
     * A driver that leaked VIFs must not leave them on the host for the next test (or the next run): after the
     * leak is recorded, the kit unplugs every VIF it handed out through the real plugger (idempotent for the ones
     * already gone). The instance is unknown here; pluggers find a VIF's port and device by the VIF alone.
     */
    private void mopUpVifs(List<String> problems) {
        for (VifSpec vif : vifs) {
            try {
                harness.vifs().unplug(new UUID(0L, 0L), vif);
            } catch (RuntimeException e) {
                problems.add("the kit could not unplug leaked VIF " + vif.portId() + ": " + e);
            }
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    protected final ComputeDriver driver() {
        return harness.driver();
    }

    protected final Harness harness() {
        return harness;
    }

    private <T> T call(String what, Supplier<T> op) {
        return assertTimeoutPreemptively(OP_TIMEOUT, op::get,
                () -> "contract 'no operation hangs': " + what + " did not return within " + OP_TIMEOUT.toSeconds() + " s");
    }

    private void run(String what, Runnable op) {
        call(what, () -> {
            op.run();
            return null;
        });
    }

    /** A new spec on the driver's preferred test image; registered for cleanup. */
    protected final InstanceSpec newSpec() {
        UUID uuid = UUID.randomUUID();
        spawned.add(uuid);
        return InstanceSpec.of(uuid, "conformance-" + uuid.toString().substring(0, 8), Flavor.tiny(),
                harness.bootImage().id());
    }

    protected final InstanceInfo spawn(InstanceSpec spec) {
        spawned.add(spec.uuid());
        return call("spawn " + spec.uuid(), () -> driver().spawn(spec));
    }

    protected final InstanceInfo spawnRunning() {
        InstanceInfo info = spawn(newSpec());
        assertEquals(PowerState.RUNNING, info.powerState(), "contract 'spawn powers on': spawn returned");
        return info;
    }

    private PowerState state(UUID uuid) {
        return call("info " + uuid, () -> driver().info(uuid)).powerState();
    }

    private void assertState(PowerState expected, UUID uuid, String rule) {
        assertEquals(expected, state(uuid), () -> "contract '" + rule + "': info() power state of " + uuid);
    }

    /**
     * Skips the test when the driver declares {@code c} missing, after checking that the operation then says so
     * with {@link DriverException.CapabilityMissing} on a running instance and changes nothing.
     */
    private void requireCapability(Capability c) {
        if (harness.info().has(c)) {
            return;
        }
        UUID uuid = spawnRunning().uuid();
        Executable op = switch (c) {
            case PAUSE -> () -> driver().pause(uuid);
            case SUSPEND -> () -> driver().suspend(uuid);
            case SNAPSHOT -> () -> driver().snapshot(uuid, "never");
            case CONSOLE_LOG -> () -> driver().consoleLog(uuid, 100);
            case INTERFACE_HOTPLUG -> () -> driver().attachInterface(uuid,
                    VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:00:00:02"));
            case CONSOLE -> () -> driver().openConsole(uuid).close();
            case EXEC -> () -> driver().exec(uuid, ExecSpec.of("true")).close();
            case INSTANCE_STATS -> () -> driver().stats();
            case SOFT_REBOOT, LIFECYCLE_EVENTS -> null;
        };
        if (op != null) {
            var e = assertThrows(DriverException.CapabilityMissing.class, op,
                    () -> "contract 'a capability declared missing raises CapabilityMissing': " + c);
            assertEquals(c, e.capability());
            assertState(PowerState.RUNNING, uuid, "a refused operation changes nothing");
        }
        assumeTrue(false, () -> "driver " + harness.info().name() + " declares " + c + " missing");
    }

    private static void assertInvalidState(PowerState expectedFound, Executable op, String rule) {
        var e = assertThrows(DriverException.InvalidInstanceState.class, op,
                () -> "contract '" + rule + "': expected InvalidInstanceState");
        assertEquals(expectedFound, e.found(), () -> "contract '" + rule + "': the state named in the error");
        assertTrue(e.getMessage().contains(expectedFound.name()), () -> "the message names the state: " + e.getMessage());
    }

    // ---- spawn, info, list --------------------------------------------------------------------------------

    @Test
    @DisplayName("spawn creates a RUNNING instance that info() and list() report with its spec")
    void spawnInfoList() {
        InstanceInfo spawnedInfo = spawnRunning();
        InstanceSpec spec = spawnedInfo.spec();
        InstanceInfo info = call("info", () -> driver().info(spec.uuid()));
        assertEquals(PowerState.RUNNING, info.powerState());
        assertEquals(spec.flavor(), info.spec().flavor(), "spec stored in the backend: flavor");
        assertEquals(spec.imageId(), info.spec().imageId(), "spec stored in the backend: image id");
        assertEquals(spec.name(), info.spec().name(), "spec stored in the backend: name");
        List<InstanceInfo> all = call("list", () -> driver().list());
        assertTrue(all.stream().anyMatch(i -> i.uuid().equals(spec.uuid()) && i.powerState() == PowerState.RUNNING),
                () -> "contract 'list() reports every instance': " + spec.uuid() + " missing from " + all);
    }

    @Test
    @DisplayName("list() returns only the instances of the context's owner; a driver of another owner does not see them")
    void listIsScopedToTheOwner() throws IOException {
        UUID uuid = spawnRunning().uuid();
        Path dir = harness.scratchDir("other-owner-");
        try {
            var context = new DriverContext(Harness.config("berth.driver.", provider().name()), harness.images(),
                    Optional.of(harness.vifs()), EventSink.DISCARD, Files.createDirectories(dir.resolve("state")),
                    Harness.OWNER + "-other");
            ComputeDriver other = call("create", () -> provider().create(context));
            try {
                List<InstanceInfo> theirs = call("list", other::list);
                assertTrue(theirs.stream().noneMatch(i -> i.uuid().equals(uuid)), () -> "contract 'list() shows only "
                        + "the context owner's instances': owner " + context.owner() + " listed " + uuid + " of "
                        + Harness.OWNER);
            } finally {
                other.close();
            }
            assertTrue(call("list", () -> driver().list()).stream().anyMatch(i -> i.uuid().equals(uuid)),
                    "contract 'list() shows the context owner's instances'");
        } finally {
            deleteTree(dir);
        }
    }

    @Test
    @DisplayName("spawn with power_on=false leaves the instance SHUTDOWN, power_on starts it")
    void spawnPoweredOff() {
        InstanceSpec spec = newSpec().withPowerOn(false);
        InstanceInfo info = spawn(spec);
        assertEquals(PowerState.SHUTDOWN, info.powerState(), "contract 'spawn without power on': spawn returned");
        run("power_on", () -> driver().powerOn(spec.uuid()));
        assertState(PowerState.RUNNING, spec.uuid(), "power_on starts");
    }

    @Test
    @DisplayName("spawn of an existing uuid raises InstanceExists and leaves the first instance alone")
    void spawnDuplicate() {
        InstanceInfo first = spawnRunning();
        assertThrows(DriverException.InstanceExists.class, () -> driver().spawn(first.spec()));
        assertState(PowerState.RUNNING, first.uuid(), "a refused spawn changes nothing");
    }

    // ---- failed spawns leave nothing ---------------------------------------------------------------------

    @Test
    @DisplayName("spawn from an unknown image raises ImageNotFound and leaves nothing")
    void spawnUnknownImage() {
        InstanceSpec spec = newSpec();
        InstanceSpec bad = InstanceSpec.of(spec.uuid(), spec.name(), spec.flavor(), UUID.randomUUID().toString());
        assertThrows(DriverException.ImageNotFound.class, () -> driver().spawn(bad));
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().info(spec.uuid()));
    }

    @Test
    @DisplayName("spawn from an image format the driver does not take raises ImageInvalid and leaves nothing")
    void spawnWrongFormat() throws IOException {
        ImageFormat foreign = Arrays.stream(DiskFormat.values())
                .flatMap(d -> Arrays.stream(ContainerFormat.values()).map(c -> new ImageFormat(d, c)))
                .filter(f -> !harness.info().imageFormats().contains(f)).findFirst().orElseThrow();
        Path tmp = Files.createTempFile(harness.stateDir().getParent(), "foreign", ".img");
        Files.writeString(tmp, "not an image this driver takes");
        Image image = harness.images().add("berth-foreign", foreign.diskFormat(), foreign.containerFormat(), tmp, Map.of());
        snapshots.add(image.id());
        InstanceSpec spec = newSpec();
        InstanceSpec bad = InstanceSpec.of(spec.uuid(), spec.name(), spec.flavor(), image.id());
        assertThrows(DriverException.ImageInvalid.class, () -> driver().spawn(bad),
                "contract 'spawn checks the image format' (" + foreign + ")");
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().info(spec.uuid()));
    }

    @Test
    @DisplayName("a spawn that fails half way (VIF plug refused) raises and leaves nothing behind")
    void spawnFailsHalfWay() {
        String port = UUID.randomUUID().toString();
        ports.add(port);
        harness.vifs().poison(port);
        InstanceSpec spec = newSpec().withVifs(List.of(VifSpec.of(port, "fa:16:3e:00:00:01")));
        assertThrows(DriverException.class, () -> call("spawn", () -> driver().spawn(spec)),
                "contract 'a failed spawn raises'");
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().info(spec.uuid()),
                "contract 'a failed spawn leaves nothing': info()");
        List<String> leaks = LeakCheck.leftovers(List.of(spec.uuid()), List.of(port), harness.stateDir());
        assertTrue(leaks.isEmpty(), () -> "contract 'a failed spawn leaves nothing' broken: " + leaks);
    }

    @Test
    @DisplayName("a spawn whose VIF the switch does not attach raises and leaves nothing behind")
    void spawnFailsWhenTheSwitchDoesNotAttach() {
        requireVifBackend();
        VifSpec vif = newVif(12);
        harness.vifs().poisonAttach(vif.portId());
        InstanceSpec spec = newSpec().withVifs(List.of(vif));
        assertThrows(DriverException.class, () -> call("spawn", () -> driver().spawn(spec)),
                "contract 'spawn waits for the switch to attach every VIF (awaitAttached) and fails if it does not'");
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().info(spec.uuid()),
                "contract 'a failed spawn leaves nothing': info()");
        assertEquals("", ovsExternalIds(vif.portId()), "contract 'a failed spawn unplugs what it plugged'");
        List<String> leaks = LeakCheck.leftovers(List.of(spec.uuid()), List.of(vif.portId()), harness.stateDir());
        assertTrue(leaks.isEmpty(), () -> "contract 'a failed spawn leaves nothing' broken: " + leaks);
    }

    // ---- unknown ids and idempotent destroy -------------------------------------------------------------

    @Test
    @DisplayName("operations on an unknown uuid raise InstanceNotFound; destroy of it succeeds")
    void unknownInstance() {
        UUID unknown = UUID.randomUUID();
        spawned.add(unknown);
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().info(unknown));
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().powerOn(unknown));
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().powerOff(unknown, POWER_OFF_TIMEOUT));
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().reboot(unknown, RebootType.HARD));
        if (harness.info().has(Capability.PAUSE)) {
            assertThrows(DriverException.InstanceNotFound.class, () -> driver().pause(unknown));
        }
        if (harness.info().has(Capability.CONSOLE_LOG)) {
            assertThrows(DriverException.InstanceNotFound.class, () -> driver().consoleLog(unknown, 1024));
        }
        run("destroy unknown", () -> driver().destroy(unknown));
    }

    @Test
    @DisplayName("destroy removes the instance and is idempotent")
    void destroyTwice() {
        UUID uuid = spawnRunning().uuid();
        run("destroy", () -> driver().destroy(uuid));
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().info(uuid),
                "contract 'destroy removes the instance'");
        assertFalse(call("list", () -> driver().list()).stream().anyMatch(i -> i.uuid().equals(uuid)),
                "contract 'destroy removes the instance': list()");
        run("destroy again", () -> driver().destroy(uuid));
        List<String> leaks = LeakCheck.leftovers(List.of(uuid), List.of(), harness.stateDir());
        assertTrue(leaks.isEmpty(), () -> "contract 'destroy removes every host artefact' broken: " + leaks);
    }

    // ---- power --------------------------------------------------------------------------------------------

    @Test
    @DisplayName("power_off and power_on change the state; already-in-state is not an error")
    void powerOffOn() {
        UUID uuid = spawnRunning().uuid();
        run("power_off", () -> driver().powerOff(uuid, POWER_OFF_TIMEOUT));
        assertState(PowerState.SHUTDOWN, uuid, "power_off");
        run("power_off again", () -> driver().powerOff(uuid, POWER_OFF_TIMEOUT));
        assertState(PowerState.SHUTDOWN, uuid, "power_off of an off instance is not an error");
        run("power_on", () -> driver().powerOn(uuid));
        assertState(PowerState.RUNNING, uuid, "power_on");
        run("power_on again", () -> driver().powerOn(uuid));
        assertState(PowerState.RUNNING, uuid, "power_on of a running instance is not an error");
    }

    @Test
    @DisplayName("soft reboot ends RUNNING")
    void softReboot() {
        UUID uuid = spawnRunning().uuid();
        run("reboot SOFT", () -> driver().reboot(uuid, RebootType.SOFT));
        assertState(PowerState.RUNNING, uuid, "soft reboot ends RUNNING");
    }

    @Test
    @DisplayName("hard reboot ends RUNNING from RUNNING and from SHUTDOWN")
    void hardRebootFromRunningAndShutdown() {
        UUID uuid = spawnRunning().uuid();
        run("reboot HARD", () -> driver().reboot(uuid, RebootType.HARD));
        assertState(PowerState.RUNNING, uuid, "hard reboot from RUNNING");
        run("power_off", () -> driver().powerOff(uuid, POWER_OFF_TIMEOUT));
        run("reboot HARD", () -> driver().reboot(uuid, RebootType.HARD));
        assertState(PowerState.RUNNING, uuid, "hard reboot from SHUTDOWN");
    }

    @Test
    @DisplayName("hard reboot ends RUNNING from PAUSED")
    void hardRebootFromPaused() {
        requireCapability(Capability.PAUSE);
        UUID uuid = spawnRunning().uuid();
        run("pause", () -> driver().pause(uuid));
        run("reboot HARD", () -> driver().reboot(uuid, RebootType.HARD));
        assertState(PowerState.RUNNING, uuid, "hard reboot from PAUSED");
    }

    // ---- pause, suspend ------------------------------------------------------------------------------------

    @Test
    @DisplayName("pause freezes (PAUSED), unpause thaws; unpause of a running instance names its state")
    void pauseUnpause() {
        requireCapability(Capability.PAUSE);
        UUID uuid = spawnRunning().uuid();
        run("pause", () -> driver().pause(uuid));
        assertState(PowerState.PAUSED, uuid, "pause reports PAUSED");
        run("pause again", () -> driver().pause(uuid));
        assertState(PowerState.PAUSED, uuid, "pause of a paused instance is not an error");
        run("unpause", () -> driver().unpause(uuid));
        assertState(PowerState.RUNNING, uuid, "unpause");
        assertInvalidState(PowerState.RUNNING, () -> driver().unpause(uuid), "unpause needs PAUSED");
    }

    @Test
    @DisplayName("pause of a SHUTDOWN instance raises InvalidInstanceState naming SHUTDOWN")
    void pauseWhenOff() {
        requireCapability(Capability.PAUSE);
        UUID uuid = spawn(newSpec().withPowerOn(false)).uuid();
        assertInvalidState(PowerState.SHUTDOWN, () -> driver().pause(uuid), "pause needs RUNNING");
    }

    @Test
    @DisplayName("suspend saves to disk (SUSPENDED), resume restores RUNNING")
    void suspendResume() {
        requireCapability(Capability.SUSPEND);
        UUID uuid = spawnRunning().uuid();
        run("suspend", () -> driver().suspend(uuid));
        assertState(PowerState.SUSPENDED, uuid, "suspend reports SUSPENDED");
        run("resume", () -> driver().resume(uuid));
        assertState(PowerState.RUNNING, uuid, "resume");
    }

    // ---- VIFs ---------------------------------------------------------------------------------------------

    private VifSpec newVif(int host) {
        String port = UUID.randomUUID().toString();
        ports.add(port);
        String mac = String.format("fa:16:3e:%02x:%02x:%02x", host, (int) (Math.random() * 256), (int) (Math.random() * 256));
        VifSpec vif = new VifSpec(port, mac, "br-int", 1450, Optional.empty(),
                List.of(org.berth.driver.api.IpAddress.parseCidr(VIF_SUBNET + "." + host + "/24", "ip")), Optional.empty());
        vifs.add(vif);
        return vif;
    }

    private void requireVifBackend() {
        assumeTrue(harness.vifs().hasBackend(), "no VIF backend in this run (the kit was given no VifPlugger)");
    }

    /** The OVS Interface external_ids of a port, from ovsdb itself; empty when there is no such Interface. */
    private static String ovsExternalIds(String portId) {
        return ovsInterfaceColumn(portId, "external_ids");
    }

    /** One column of the port's OVS Interface, read with ovs-vsctl; empty when there is no such Interface. */
    private static String ovsInterfaceColumn(String portId, String column) {
        var r = HostCommand.run(Duration.ofSeconds(20), "ovs-vsctl", "--timeout=10", "--bare",
                "--columns=" + column, "find", "Interface", "external_ids:iface-id=" + portId);
        assertTrue(r.ok(), () -> "ovs-vsctl: " + r.stderr());
        return r.stdout().strip();
    }

    /** The ofport ovs-vswitchd gave the port's Interface; 0 when unset or there is no such Interface. */
    private static long ovsOfport(String portId) {
        String out = ovsInterfaceColumn(portId, "ofport");
        return out.matches("-?\\d+") ? Long.parseLong(out) : 0;
    }

    @Test
    @DisplayName("spawn plugs each VIF into OVS with Neutron's external_ids; power off/on keeps it plugged")
    void spawnPlugsVifs() {
        requireVifBackend();
        VifSpec vif = newVif(10);
        InstanceSpec spec = newSpec().withVifs(List.of(vif));
        assertEquals(PowerState.RUNNING, spawn(spec).powerState());
        String ids = ovsExternalIds(vif.portId());
        assertTrue(ids.contains("iface-id=\"" + vif.portId() + "\"") || ids.contains("iface-id=" + vif.portId()),
                () -> "contract 'OVS iface-id is the port id': " + ids);
        assertTrue(ids.contains(vif.mac()), () -> "contract 'attached-mac is the VIF MAC': " + ids);
        assertTrue(ids.contains(spec.uuid().toString()), () -> "contract 'vm-uuid is the instance': " + ids);
        assertTrue(ovsOfport(vif.portId()) > 0, "contract 'spawn returns with every VIF attached (ofport set)'");
        assertEquals(List.of(vif), call("info", () -> driver().info(spec.uuid())).spec().vifs(), "VIFs stored");
        run("power_off", () -> driver().powerOff(spec.uuid(), POWER_OFF_TIMEOUT));
        run("power_on", () -> driver().powerOn(spec.uuid()));
        assertFalse(ovsExternalIds(vif.portId()).isEmpty(), "contract 'power_on re-plugs the VIFs'");
        assertTrue(ovsOfport(vif.portId()) > 0, "contract 'power_on returns with every VIF attached (ofport set)'");
    }

    @Test
    @DisplayName("attach and detach a VIF on a running instance")
    void attachDetachInterface() {
        requireCapability(Capability.INTERFACE_HOTPLUG);
        requireVifBackend();
        UUID uuid = spawnRunning().uuid();
        VifSpec vif = newVif(11);
        run("attach", () -> driver().attachInterface(uuid, vif));
        assertFalse(ovsExternalIds(vif.portId()).isEmpty(), "contract 'attach plugs the VIF into OVS'");
        assertTrue(ovsOfport(vif.portId()) > 0, "contract 'attach returns with the VIF attached (ofport set)'");
        assertTrue(call("info", () -> driver().info(uuid)).spec().vifs().contains(vif), "attached VIF in the spec");
        run("detach", () -> driver().detachInterface(uuid, vif.portId()));
        assertEquals("", ovsExternalIds(vif.portId()), "contract 'detach removes the OVS port'");
        assertFalse(call("info", () -> driver().info(uuid)).spec().vifs().contains(vif), "detached VIF gone from the spec");
        run("detach again", () -> driver().detachInterface(uuid, vif.portId()));
        List<String> leaks = LeakCheck.leftovers(List.of(), List.of(vif.portId()), harness.stateDir());
        assertTrue(leaks.isEmpty(), () -> "contract 'detach leaves nothing': " + leaks);
    }

    // ---- console, snapshot, resources, events -------------------------------------------------------------

    @Test
    @DisplayName("console_log returns a bounded tail of the console")
    void consoleLogBounded() throws InterruptedException {
        requireCapability(Capability.CONSOLE_LOG);
        UUID uuid = spawnRunning().uuid();
        long deadline = System.nanoTime() + CONSOLE_WAIT.toNanos();
        byte[] big = new byte[0];
        while (System.nanoTime() < deadline) {
            big = call("console_log", () -> driver().consoleLog(uuid, 65536));
            if (big.length > 16) {
                break;
            }
            Thread.sleep(500);
        }
        assertTrue(big.length > 16, "contract 'console_log shows the console': still empty after " + CONSOLE_WAIT);
        assertTrue(big.length <= 65536, "contract 'console_log is bounded': " + big.length + " > 65536");
        for (int attempt = 0; ; attempt++) {
            byte[] before = call("console_log", () -> driver().consoleLog(uuid, 65536));
            byte[] tail = call("console_log", () -> driver().consoleLog(uuid, 16));
            byte[] after = call("console_log", () -> driver().consoleLog(uuid, 65536));
            assertTrue(tail.length <= 16, "contract 'console_log is bounded': " + tail.length + " bytes for maxBytes 16");
            if (Arrays.equals(before, after)) {
                assertArrayEquals(Arrays.copyOfRange(before, before.length - tail.length, before.length), tail,
                        "contract 'console_log returns the tail'");
                return;
            }
            assertTrue(attempt < 30, "console kept changing; cannot compare tails");
            Thread.sleep(1000);
        }
    }

    @Test
    @DisplayName("console_log refuses a maxBytes outside 1..1 MiB")
    void consoleLogLimits() {
        requireCapability(Capability.CONSOLE_LOG);
        UUID uuid = spawnRunning().uuid();
        assertThrows(IllegalArgumentException.class, () -> driver().consoleLog(uuid, 0));
        assertThrows(IllegalArgumentException.class, () -> driver().consoleLog(uuid, 2 * 1024 * 1024));
    }

    @Test
    @DisplayName("snapshot stores an image that spawns again; the instance keeps its state")
    void snapshotSpawnsAgain() {
        requireCapability(Capability.SNAPSHOT);
        UUID uuid = spawnRunning().uuid();
        Image image = call("snapshot", () -> driver().snapshot(uuid, "conformance-snap"));
        snapshots.add(image.id());
        assertEquals(image, harness.images().get(image.id()), "contract 'snapshot goes to the image store'");
        assertTrue(harness.info().accepts(image), "contract 'a snapshot spawns again': format " + image.diskFormat()
                + "/" + image.containerFormat());
        assertState(PowerState.RUNNING, uuid, "snapshot keeps the power state");
        InstanceSpec fromSnap = newSpec();
        InstanceInfo second = spawn(InstanceSpec.of(fromSnap.uuid(), "from-snapshot", Flavor.tiny(), image.id()));
        assertEquals(PowerState.RUNNING, second.powerState(), "contract 'a snapshot spawns again'");
    }

    @Test
    @DisplayName("resources() reports the host and counts the driver's instances")
    void resources() {
        InstanceInfo info = spawnRunning();
        var r = call("resources", () -> driver().resources());
        assertTrue(r.vcpus() >= 1 && r.memoryMb() > 0, () -> "host capacity: " + r);
        assertTrue(r.vcpusUsed() >= info.spec().flavor().vcpus(), () -> "vcpus_used counts the instance: " + r);
        assertTrue(r.memoryMbUsed() >= info.spec().flavor().memoryMb(), () -> "memory_mb_used counts it: " + r);
        assertTrue(r.runningInstances() >= 1, () -> "running instances counts it: " + r);
        assertFalse(r.hypervisorHostname().isBlank());
    }

    @Test
    @DisplayName("lifecycle events report state changes")
    void lifecycleEvents() throws InterruptedException {
        requireCapability(Capability.LIFECYCLE_EVENTS);
        UUID uuid = spawnRunning().uuid();
        var events = harness.events();
        assertTrue(events.await(uuid, LifecycleEvent.Transition.STARTED, Duration.ofSeconds(20)).isPresent(),
                () -> "contract 'spawn emits STARTED': got " + events.events(uuid));
        run("power_off", () -> driver().powerOff(uuid, POWER_OFF_TIMEOUT));
        assertTrue(events.await(uuid, LifecycleEvent.Transition.STOPPED, Duration.ofSeconds(20)).isPresent(),
                () -> "contract 'power_off emits STOPPED': got " + events.events(uuid));
    }

    /** Runs {@code op}, adds the transitions it must emit, and checks the instance's events are exactly these. */
    private void emits(UUID uuid, List<LifecycleEvent.Transition> expected, String operation, Runnable op,
                       LifecycleEvent.Transition... transitions) throws InterruptedException {
        if (op != null) {
            run(operation, op);
        }
        expected.addAll(List.of(transitions));
        List<LifecycleEvent.Transition> got = harness.events().awaitCount(uuid, expected.size(), EVENT_WAIT);
        assertEquals(expected, got, () -> "contract 'each state change emits exactly the documented events': after "
                + operation + " (see LifecycleEvent)");
    }

    @Test
    @DisplayName("each state change emits exactly the documented lifecycle events, in order, and no others")
    void lifecycleEventsExact() throws InterruptedException {
        requireCapability(Capability.LIFECYCLE_EVENTS);
        UUID uuid = spawnRunning().uuid();
        var expected = new ArrayList<LifecycleEvent.Transition>();
        emits(uuid, expected, "spawn", null, LifecycleEvent.Transition.STARTED);
        if (harness.info().has(Capability.PAUSE)) {
            emits(uuid, expected, "pause", () -> driver().pause(uuid), LifecycleEvent.Transition.PAUSED);
            emits(uuid, expected, "pause again", () -> driver().pause(uuid));
            emits(uuid, expected, "unpause", () -> driver().unpause(uuid), LifecycleEvent.Transition.RESUMED);
        }
        emits(uuid, expected, "power_off", () -> driver().powerOff(uuid, POWER_OFF_TIMEOUT),
                LifecycleEvent.Transition.STOPPED);
        emits(uuid, expected, "power_off again", () -> driver().powerOff(uuid, POWER_OFF_TIMEOUT));
        emits(uuid, expected, "power_on", () -> driver().powerOn(uuid), LifecycleEvent.Transition.STARTED);
        emits(uuid, expected, "reboot HARD", () -> driver().reboot(uuid, RebootType.HARD),
                LifecycleEvent.Transition.STOPPED, LifecycleEvent.Transition.STARTED);
        emits(uuid, expected, "destroy", () -> driver().destroy(uuid), LifecycleEvent.Transition.STOPPED);
        Thread.sleep(EVENT_QUIET.toMillis()); // absence can only be observed over a window
        assertEquals(expected, harness.events().transitions(uuid),
                "contract 'each state change emits exactly the documented events': no event after destroy");
    }

    // ---- idempotence: already in state, never a hang -------------------------------------------------------

    /** Runs {@code op}, which needs no state change, within {@link #NOOP_TIMEOUT}. */
    private static void prompt(String what, Executable op) {
        assertTimeoutPreemptively(NOOP_TIMEOUT, op, () -> "contract 'an already-in-state answer comes promptly': "
                + what + " did not return within " + NOOP_TIMEOUT.toSeconds() + " s");
    }

    /** As {@link #assertInvalidState}, within {@link #NOOP_TIMEOUT}. */
    private static void promptInvalidState(PowerState found, String what, Executable op) {
        prompt(what, () -> assertInvalidState(found, op, what + " raises InvalidInstanceState"));
    }

    @Test
    @DisplayName("calls that find the instance already in state give the documented answer promptly (critest idempotence)")
    void idempotentAnswers() {
        UUID uuid = spawnRunning().uuid();
        prompt("power_on of a RUNNING instance", () -> driver().powerOn(uuid));
        assertState(PowerState.RUNNING, uuid, "power_on of a RUNNING instance changes nothing");
        if (harness.info().has(Capability.PAUSE)) {
            promptInvalidState(PowerState.RUNNING, "unpause of a RUNNING instance", () -> driver().unpause(uuid));
        }
        if (harness.info().has(Capability.SUSPEND)) {
            promptInvalidState(PowerState.RUNNING, "resume of a RUNNING instance", () -> driver().resume(uuid));
        }
        if (harness.info().has(Capability.INTERFACE_HOTPLUG)) {
            prompt("detach of a port the instance does not have",
                    () -> driver().detachInterface(uuid, UUID.randomUUID().toString()));
        }
        assertState(PowerState.RUNNING, uuid, "a refused or empty call changes nothing");
        run("power_off", () -> driver().powerOff(uuid, POWER_OFF_TIMEOUT));
        prompt("power_off of a SHUTDOWN instance", () -> driver().powerOff(uuid, POWER_OFF_TIMEOUT));
        assertState(PowerState.SHUTDOWN, uuid, "power_off of a SHUTDOWN instance changes nothing");
        if (harness.info().has(Capability.SUSPEND)) {
            promptInvalidState(PowerState.SHUTDOWN, "suspend of a SHUTDOWN instance", () -> driver().suspend(uuid));
        }
        run("destroy", () -> driver().destroy(uuid));
        prompt("destroy of a destroyed instance", () -> driver().destroy(uuid));
        prompt("destroy of an unknown instance", () -> driver().destroy(UUID.randomUUID()));
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().info(uuid), "contract 'destroy removes the instance'");
    }

    // ---- a wedged backend ----------------------------------------------------------------------------------

    /**
     * Runs {@code op} against a wedged backend: it must end within {@link #WEDGED_ALLOWED} and, if it fails, with
     * OperationTimedOut or BackendUnavailable. Returns what it returned (null when it failed as it should).
     */
    private static <T> T wedgedCall(String what, boolean mayReturn, Supplier<T> op) {
        long start = System.nanoTime();
        T result = null;
        try {
            result = assertTimeoutPreemptively(WEDGED_ALLOWED, op::get, () -> "contract 'no operation hangs on a "
                    + "wedged backend': " + what + " did not return within " + WEDGED_ALLOWED.toSeconds() + " s");
            assertTrue(mayReturn, () -> "contract 'a wedged backend raises OperationTimedOut or BackendUnavailable': "
                    + what + " returned");
        } catch (DriverException.OperationTimedOut | DriverException.BackendUnavailable expected) {
            // the documented answers
        } catch (DriverException other) {
            fail("contract 'a wedged backend raises OperationTimedOut or BackendUnavailable': " + what + " raised "
                    + other.getClass().getSimpleName() + ": " + other.getMessage(), other);
        }
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertTrue(took.compareTo(WEDGED_ALLOWED) <= 0, () -> "contract 'no operation hangs on a wedged backend': "
                + what + " took " + took.toMillis() + " ms");
        return result;
    }

    /** Removes a scratch directory of a test, best effort. */
    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    @DisplayName("on a wedged backend (accepts, never answers) create and every call fail within the call timeout")
    void wedgedBackendTimesOut() throws IOException {
        Path dir = harness.scratchDir("wedged-");
        try (WedgedSocket wedged = WedgedSocket.open(dir.resolve("backend.sock"))) {
            Optional<Map<String, String>> options = provider().backendOnSocket(wedged.path(), WEDGED_CALL_TIMEOUT);
            assumeTrue(options.isPresent(), () -> "driver " + provider().name()
                    + " does not declare how to reach a backend on a unix socket (ComputeDriverProvider.backendOnSocket)");
            var context = new DriverContext(new DriverConfig(provider().name(), options.get()), harness.images(),
                    Optional.of(harness.vifs()), EventSink.DISCARD, Files.createDirectories(dir.resolve("state")));
            ComputeDriver wedgedDriver = wedgedCall("create", true, () -> provider().create(context));
            if (wedgedDriver != null) {
                UUID unknown = UUID.randomUUID();
                wedgedCall("list", false, wedgedDriver::list);
                wedgedCall("info", false, () -> wedgedDriver.info(unknown));
                wedgedCall("destroy", false, () -> {
                    wedgedDriver.destroy(unknown);
                    return null;
                });
                wedgedCall("close", true, () -> {
                    wedgedDriver.close();
                    return null;
                });
            }
            assertTrue(wedged.accepted() > 0, "the driver never connected to the wedged backend at "
                    + wedged.path() + ": the options of backendOnSocket were not used");
        } finally {
            deleteTree(dir);
        }
    }

    // ---- concurrency ---------------------------------------------------------------------------------------

    /** The result of {@code f}, failing by rule when it threw or did not finish within the operation timeout. */
    private static <T> T await(Future<T> f, String what) throws InterruptedException {
        try {
            return f.get(OP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return fail("contract 'every operation is thread-safe': " + what + " failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            return fail("contract 'no operation hangs': " + what + " did not return within " + OP_TIMEOUT.toSeconds() + " s");
        }
    }

    @Test
    @DisplayName("spawns and destroys run in parallel on one driver and leave nothing")
    void parallelSpawnDestroy() throws InterruptedException {
        List<InstanceSpec> specs = new ArrayList<>();
        for (int i = 0; i < PARALLEL_INSTANCES; i++) {
            specs.add(newSpec());
        }
        ExecutorService pool = Executors.newFixedThreadPool(PARALLEL_INSTANCES);
        try {
            List<Future<InstanceInfo>> spawns = specs.stream().map(s -> pool.submit(() -> driver().spawn(s))).toList();
            for (int i = 0; i < specs.size(); i++) {
                assertEquals(PowerState.RUNNING, await(spawns.get(i), "parallel spawn " + specs.get(i).uuid()).powerState(),
                        "contract 'spawn powers on' (in parallel)");
            }
            List<InstanceInfo> all = call("list", () -> driver().list());
            for (InstanceSpec s : specs) {
                assertTrue(all.stream().anyMatch(i -> i.uuid().equals(s.uuid())),
                        () -> "contract 'list() reports every instance' (spawned in parallel): " + s.uuid() + " missing");
            }
            List<Future<Void>> destroys = specs.stream().map(s -> pool.submit(() -> {
                driver().destroy(s.uuid());
                return (Void) null;
            })).toList();
            for (int i = 0; i < specs.size(); i++) {
                await(destroys.get(i), "parallel destroy " + specs.get(i).uuid());
            }
        } finally {
            pool.shutdownNow();
        }
        for (InstanceSpec s : specs) {
            assertThrows(DriverException.InstanceNotFound.class, () -> driver().info(s.uuid()),
                    "contract 'destroy removes the instance' (in parallel)");
        }
    }

    // --- instance stats (Capability.INSTANCE_STATS) ---

    /** How long the kit gives a busy guest to show its load (a VM boots first). */
    private static final Duration STATS_WAIT = Duration.ofSeconds(120);

    private List<InstanceStats> stats() {
        return call("stats", () -> driver().stats());
    }

    private static Optional<InstanceStats> statsOf(List<InstanceStats> sample, UUID uuid) {
        List<InstanceStats> of = sample.stream().filter(s -> s.uuid().equals(uuid)).toList();
        assertTrue(of.size() <= 1, () -> "contract 'stats: one record per instance': " + of);
        return of.stream().findFirst();
    }

    /** A spec whose test guest spins one CPU (metadata busy=1: the test images' convention). */
    private InstanceSpec busySpec() {
        InstanceSpec spec = newSpec();
        GuestConfig g = spec.guest();
        return spec.withGuest(new GuestConfig(g.hostname(), Map.of("busy", "1"), g.publicKeys(), g.userData(),
                g.configDrive(), g.projectId(), g.availabilityZone()));
    }

    @Test
    @DisplayName("stats: a busy instance's CPU time grows by more than half a CPU-second a second, an idle one's by less")
    void statsCpuTimeOfABusyInstanceGrows() throws InterruptedException {
        requireCapability(Capability.INSTANCE_STATS);
        UUID busy = spawn(busySpec()).uuid();
        UUID idle = spawnRunning().uuid();
        long deadline = System.nanoTime() + STATS_WAIT.toNanos();
        List<String> seen = new ArrayList<>();
        while (true) {
            List<InstanceStats> first = stats();
            long t0 = System.nanoTime();
            Thread.sleep(3000);
            List<InstanceStats> second = stats();
            double wall = (System.nanoTime() - t0) / 1e9;
            InstanceStats b0 = statsOf(first, busy).orElseThrow(() -> new AssertionError("busy instance absent"));
            InstanceStats b1 = statsOf(second, busy).orElseThrow(() -> new AssertionError("busy instance absent"));
            InstanceStats i0 = statsOf(first, idle).orElseThrow(() -> new AssertionError("idle instance absent"));
            InstanceStats i1 = statsOf(second, idle).orElseThrow(() -> new AssertionError("idle instance absent"));
            assertTrue(b1.cpuTimeNs() >= b0.cpuTimeNs(), "contract 'stats: cpu time never goes backwards'");
            assertTrue(i1.cpuTimeNs() >= i0.cpuTimeNs(), "contract 'stats: cpu time never goes backwards'");
            double rate = (b1.cpuTimeNs() - b0.cpuTimeNs()) / 1e9 / wall;
            double idleRate = (i1.cpuTimeNs() - i0.cpuTimeNs()) / 1e9 / wall;
            seen.add(String.format(Locale.ROOT, "busy %.2f idle %.2f", rate, idleRate));
            // Both guests may still be booting in the first windows (a VM's boot keeps a CPU busy too).
            if (rate > 0.5 && idleRate < rate / 2) {
                assertEquals(PowerState.RUNNING, b1.state(), "contract 'stats: the power state of the instance'");
                assertTrue(b1.vcpus() >= 1, () -> "contract 'stats: vcpus of a running instance': " + b1.vcpus());
                return;
            }
            assertTrue(System.nanoTime() - deadline < 0, () -> "contract 'stats: a busy instance's cpu time grows': "
                    + "CPU-seconds per second of the busy guest over " + STATS_WAIT.toSeconds() + " s: " + seen);
        }
    }

    @Test
    @DisplayName("stats: every running instance once, its counters never go backwards, an unknown or destroyed one is absent")
    void statsCountersNeverGoBackwards() throws InterruptedException {
        requireCapability(Capability.INSTANCE_STATS);
        InstanceSpec spec = newSpec();
        if (harness.vifs().hasBackend()) {
            spec = spec.withVifs(List.of(newVif(12)));
        }
        UUID uuid = spawn(spec).uuid();
        UUID off = spawn(newSpec().withPowerOn(false)).uuid();
        InstanceStats previous = null;
        for (int i = 0; i < 3; i++) {
            List<InstanceStats> sample = stats();
            InstanceStats now = statsOf(sample, uuid).orElseThrow(
                    () -> new AssertionError("contract 'stats: every instance of the driver': " + uuid + " absent"));
            statsOf(sample, off).ifPresent(s -> assertEquals(PowerState.SHUTDOWN, s.state(),
                    "contract 'stats: the power state of the instance' (powered off)"));
            assertEquals(spec.vifs().stream().map(VifSpec::portId).toList(),
                    now.vifs().stream().map(InstanceStats.VifStats::portId).toList(),
                    "contract 'stats: one VIF entry per plugged VIF, in the spec's order'");
            if (previous != null) {
                assertMonotonic(previous, now);
            }
            previous = now;
            Thread.sleep(1000);
        }
        run("destroy", () -> driver().destroy(uuid));
        List<InstanceStats> after = stats();
        assertTrue(statsOf(after, uuid).isEmpty(), "contract 'stats: a destroyed instance is absent'");
        Set<UUID> listed = call("list", () -> driver().list()).stream().map(InstanceInfo::uuid)
                .collect(Collectors.toSet());
        for (InstanceStats s : after) {
            assertTrue(listed.contains(s.uuid()), () -> "contract 'stats: only the owner's instances, as list()': "
                    + s.uuid() + " is not in list()");
        }
    }

    private static void assertMonotonic(InstanceStats before, InstanceStats after) {
        String rule = "contract 'stats: a counter never goes backwards across a sample': ";
        assertTrue(after.cpuTimeNs() >= before.cpuTimeNs(), () -> rule + "cpu_time_ns " + before.cpuTimeNs()
                + " -> " + after.cpuTimeNs());
        for (InstanceStats.VifStats a : after.vifs()) {
            before.vifs().stream().filter(b -> b.portId().equals(a.portId())).findFirst().ifPresent(b -> {
                for (long[] pair : new long[][] {{b.rxBytes(), a.rxBytes()}, {b.rxPackets(), a.rxPackets()},
                        {b.txBytes(), a.txBytes()}, {b.txPackets(), a.txPackets()}}) {
                    assertTrue(pair[1] >= pair[0], () -> rule + "VIF " + a.portId() + " " + b + " -> " + a);
                }
            });
        }
        for (InstanceStats.DiskStats a : after.disks()) {
            before.disks().stream().filter(b -> b.device().equals(a.device())).findFirst().ifPresent(b -> {
                for (long[] pair : new long[][] {{b.readBytes(), a.readBytes()}, {b.readRequests(), a.readRequests()},
                        {b.writeBytes(), a.writeBytes()}, {b.writeRequests(), a.writeRequests()}}) {
                    assertTrue(pair[1] >= pair[0], () -> rule + "disk " + a.device() + " " + b + " -> " + a);
                }
            });
        }
    }

    // --- exec (Capability.EXEC) ---

    /** Bound of one exec test's whole conversation with its command. */
    private static final Duration EXEC_WAIT = Duration.ofSeconds(60);

    /** Opens an exec within the operation timeout. */
    private InstanceStream exec(UUID uuid, ExecSpec spec) {
        return call("exec " + spec.argv(), () -> driver().exec(uuid, spec));
    }

    /** Everything the command sends until the stream ends (read returns -1), within {@link #EXEC_WAIT}. */
    private static byte[] execOutput(InstanceStream s) {
        var out = new ByteArrayOutputStream();
        byte[] buf = new byte[16 * 1024];
        long deadline = System.nanoTime() + EXEC_WAIT.toNanos();
        for (int n; (n = s.read(buf, 0, buf.length, Duration.ofMillis(500))) >= 0; ) {
            out.write(buf, 0, n);
            assertTrue(System.nanoTime() - deadline < 0, () -> "contract 'no operation hangs': the exec's stream did "
                    + "not end within " + EXEC_WAIT.toSeconds() + " s; got " + out.size() + " bytes");
        }
        return out.toByteArray();
    }

    @Test
    @DisplayName("exec runs a command in the instance; its output comes, its exit code is set once the stream ended")
    void execExitCode() {
        requireCapability(Capability.EXEC);
        UUID uuid = spawnRunning().uuid();
        try (InstanceStream s = exec(uuid, ExecSpec.of("sh", "-c", "echo berth-exec-out; exit 3"))) {
            assertTrue(s.exitCode().isEmpty() || s.exitCode().equals(OptionalInt.of(3)),
                    "contract 'exitCode is empty before the end'");
            String out = new String(execOutput(s), StandardCharsets.UTF_8);
            assertTrue(out.contains("berth-exec-out"), () -> "contract 'exec returns the output': " + out);
            assertEquals(OptionalInt.of(3), s.exitCode(), "contract 'exec reports the exit code once read returned -1'");
            assertEquals(-1, s.read(new byte[1], 0, 1, Duration.ZERO), "contract 'an ended stream stays ended'");
        }
    }

    @Test
    @DisplayName("exec carries stdin to the command and its stdout back, byte for byte; closeInput is EOF")
    void execStdinRoundTrip() throws Exception {
        requireCapability(Capability.EXEC);
        UUID uuid = spawnRunning().uuid();
        byte[] data = new byte[256 * 1024];
        new Random(42).nextBytes(data);
        ExecutorService writer = Executors.newSingleThreadExecutor();
        try (InstanceStream s = exec(uuid, ExecSpec.of("cat"))) {
            // Written while read: a bounded driver stops reading when its buffer is full, so one thread doing both
            // would wait on itself.
            Future<?> written = writer.submit(() -> {
                for (int off = 0; off < data.length; off += 4096) {
                    s.write(data, off, Math.min(4096, data.length - off));
                }
                s.closeInput();
                return null;
            });
            byte[] back = execOutput(s);
            await(written, "exec write");
            assertArrayEquals(data, back, "contract 'exec carries stdin to stdout unchanged' (cat)");
            assertEquals(OptionalInt.of(0), s.exitCode(), "contract 'closeInput ends the input' (cat exits 0)");
        } finally {
            writer.shutdownNow();
        }
    }

    @Test
    @DisplayName("closing an exec mid-stream ends its command")
    void execCloseEndsTheCommand() throws InterruptedException {
        requireCapability(Capability.EXEC);
        UUID uuid = spawnRunning().uuid();
        String marker = "sleep 86423";
        try (InstanceStream s = exec(uuid, ExecSpec.of("sh", "-c", "echo started; exec " + marker))) {
            byte[] buf = new byte[64];
            assertTrue(s.read(buf, 0, buf.length, EXEC_WAIT) > 0, "contract 'exec returns the output'");
        }
        // Every process's command line, NULs as spaces; this command's own does not hold the marker.
        ExecSpec ps = ExecSpec.of("sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '");
        long deadline = System.nanoTime() + EXEC_WAIT.toNanos();
        while (true) {
            String procs;
            try (InstanceStream s = exec(uuid, ps)) {
                procs = new String(execOutput(s), StandardCharsets.UTF_8);
            }
            if (!procs.contains(marker + " ")) {
                return;
            }
            assertTrue(System.nanoTime() - deadline < 0, () -> "contract 'close ends the exec's command': '" + marker
                    + "' still runs " + EXEC_WAIT.toSeconds() + " s after close");
            Thread.sleep(200);
        }
    }

    @Test
    @DisplayName("exec needs RUNNING: on a SHUTDOWN instance it raises InvalidInstanceState, on an unknown one InstanceNotFound")
    void execWhenOffOrUnknown() {
        requireCapability(Capability.EXEC);
        UUID uuid = spawn(newSpec().withPowerOn(false)).uuid();
        assertInvalidState(PowerState.SHUTDOWN, () -> driver().exec(uuid, ExecSpec.of("true")).close(),
                "exec needs RUNNING");
        UUID unknown = UUID.randomUUID();
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().exec(unknown, ExecSpec.of("true")).close(),
                "contract 'an unknown uuid raises InstanceNotFound': exec");
    }

    // --- console (Capability.CONSOLE) ---

    /** Bound of one console conversation: the guest boots meanwhile (the kit does not wait for a marker first). */
    private static final Duration CONSOLE_ANSWER_WAIT = Duration.ofSeconds(120);
    /** How often the question is typed again until the guest's shell answers (it may still be booting). */
    private static final Duration CONSOLE_RETYPE = Duration.ofSeconds(3);
    /** Bound of the end of a console stream after its instance was destroyed. */
    private static final Duration CONSOLE_END_WAIT = Duration.ofSeconds(30);

    private InstanceStream openConsole(UUID uuid) {
        return call("open console " + uuid, () -> driver().openConsole(uuid));
    }

    private static void typeOn(InstanceStream console, String text) {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        console.write(b, 0, b.length);
    }

    /**
     * Types Enter (the test images' init offers a shell on the console once it is pressed) and a shell arithmetic
     * question until its answer comes back: {@code berth-<a*b>-ok}, which the echo of the typed line does not contain,
     * so only a shell in the guest can have sent it.
     */
    private static void assertConsoleAnswers(InstanceStream console, int a, int b) {
        String question = "\recho berth-$((" + a + "*" + b + "))-ok\r";
        String answer = "berth-" + a * b + "-ok";
        StringBuilder seen = new StringBuilder();
        byte[] buf = new byte[8192];
        long start = System.nanoTime();
        long typed = start - CONSOLE_RETYPE.toNanos() - 1; // type at once
        while (seen.indexOf(answer) < 0) {
            long now = System.nanoTime();
            assertTrue(now - start < CONSOLE_ANSWER_WAIT.toNanos(), () -> "contract 'the console carries input and "
                    + "output': no " + answer + " within " + CONSOLE_ANSWER_WAIT.toSeconds() + " s; read:\n"
                    + tail(seen));
            if (now - typed > CONSOLE_RETYPE.toNanos()) {
                typeOn(console, question);
                typed = now;
            }
            int n = console.read(buf, 0, buf.length, Duration.ofMillis(500));
            assertTrue(n >= 0, () -> "contract 'the console of a RUNNING instance stays open': it ended; read:\n"
                    + tail(seen));
            seen.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
        }
    }

    private static String tail(StringBuilder seen) {
        return seen.substring(Math.max(0, seen.length() - 2000));
    }

    @Test
    @DisplayName("console: a RUNNING instance's console carries input to its shell and the answer back; reopens after close")
    void consoleAnswersInput() {
        requireCapability(Capability.CONSOLE);
        UUID uuid = spawnRunning().uuid();
        InstanceStream console = openConsole(uuid);
        try {
            assertConsoleAnswers(console, 6, 7);
            assertTrue(console.exitCode().isEmpty(), "contract 'a console has no exit code'");
        } finally {
            console.close();
        }
        console.close(); // idempotent
        assertEquals(-1, console.read(new byte[16], 0, 16, Duration.ofMillis(100)),
                "contract 'a closed stream reads -1'");
        try (InstanceStream again = openConsole(uuid)) {
            assertConsoleAnswers(again, 7, 8);
        }
        assertState(PowerState.RUNNING, uuid, "a console session changes nothing");
    }

    @Test
    @DisplayName("console: only a RUNNING instance has one (SHUTDOWN: InvalidInstanceState); an unknown uuid is not found")
    void consoleWhenOffOrUnknown() {
        requireCapability(Capability.CONSOLE);
        InstanceSpec spec = newSpec().withPowerOn(false);
        spawn(spec);
        assertInvalidState(PowerState.SHUTDOWN, () -> driver().openConsole(spec.uuid()),
                "only a RUNNING instance has a console");
        assertThrows(DriverException.InstanceNotFound.class, () -> driver().openConsole(UUID.randomUUID()),
                "contract 'an unknown uuid is InstanceNotFound'");
    }

    @Test
    @DisplayName("console: the stream ends (read returns -1, write fails) when the instance is destroyed")
    void consoleEndsWhenDestroyed() {
        requireCapability(Capability.CONSOLE);
        UUID uuid = spawnRunning().uuid();
        InstanceStream console = openConsole(uuid);
        try {
            run("destroy " + uuid, () -> driver().destroy(uuid));
            byte[] buf = new byte[8192];
            long start = System.nanoTime();
            int n;
            do {
                n = console.read(buf, 0, buf.length, Duration.ofMillis(500));
            } while (n >= 0 && System.nanoTime() - start < CONSOLE_END_WAIT.toNanos());
            assertEquals(-1, n, () -> "contract 'a console ends with its instance': read did not return -1 within "
                    + CONSOLE_END_WAIT.toSeconds() + " s of destroy");
            assertThrows(DriverException.BackendFailure.class, () -> typeOn(console, "x"),
                    "contract 'writing to an ended stream raises BackendFailure'");
        } finally {
            console.close();
        }
    }
}
