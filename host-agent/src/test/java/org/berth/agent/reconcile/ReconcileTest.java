package org.berth.agent.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.berth.agent.TestAgent;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.SpecJson;
import org.berth.agent.store.VmState;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;

/** Each reconcile rule, with the fake driver as the backend. */
class ReconcileTest {
    private static final Duration SWEEP = Duration.ofSeconds(10);

    private static InstanceSpec spec(String name) {
        return InstanceSpec.of(UUID.randomUUID(), name, Flavor.tiny(), TestAgent.IMAGE_ID);
    }

    private static InstanceRecord record(TestAgent t, UUID uuid) {
        return t.agent.store().find(uuid).orElseThrow();
    }

    @Test
    void adoptsInstancesFoundInTheBackend() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\n")) {
            InstanceSpec spec = spec("stray");
            t.fake().spawn(spec);
            t.agent.reconciler().sweepNow(SWEEP);
            InstanceRecord r = record(t, spec.uuid());
            assertEquals(VmState.ACTIVE, r.vmState());
            assertEquals("fake", r.driver());
            assertEquals(512, r.memoryMb());
            assertTrue(t.agent.store().events(spec.uuid(), 10).stream().anyMatch(e -> e.kind().equals("reconcile.adopted")));
            assertEquals(200, t.call("GET", "/v1/instances/" + spec.uuid(), null).status());
        }
    }

    @Test
    void replugsTheVifsOfRunningInstancesOnly() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\n")) {
            VifSpec vif = new VifSpec(UUID.randomUUID().toString(), "fa:16:3e:22:10:01", "br-int", 1500,
                    Optional.empty(), List.of(), Optional.empty());
            InstanceSpec running = spec("with-vif").withVifs(List.of(vif));
            InstanceSpec stopped = spec("stopped-with-vif").withVifs(List.of(new VifSpec(UUID.randomUUID().toString(),
                    "fa:16:3e:22:10:02", "br-int", 1500, Optional.empty(), List.of(), Optional.empty())));
            InstanceSpec noVifs = spec("no-vifs");
            for (InstanceSpec s : List.of(running, stopped, noVifs)) {
                t.fake().spawn(s);
            }
            t.fake().powerOff(stopped.uuid(), Duration.ofSeconds(1));
            t.agent.reconciler().sweepNow(SWEEP); // adopts them
            t.fake().replugged.clear();
            t.agent.reconciler().sweepNow(SWEEP);
            assertEquals(List.of(running.uuid()), t.fake().replugged);
        }
    }

    @Test
    void marksRecordsWhoseBackendInstanceVanished() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\n")) {
            UUID uuid = t.spawnAndWait("doomed");
            t.fake().destroy(uuid); // behind the agent's back
            t.agent.reconciler().sweepNow(SWEEP);
            InstanceRecord r = record(t, uuid);
            assertEquals(VmState.ERROR, r.vmState());
            assertEquals(PowerState.NOSTATE, r.powerState());
            assertEquals(Reconciler.VANISHED, r.fault());
        }
    }

    @Test
    void syncsThePowerStateFromTheBackend() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\n")) {
            UUID uuid = t.spawnAndWait("sync");
            InstanceRecord r = record(t, uuid);
            t.agent.store().update(r.withState(VmState.PAUSED, PowerState.PAUSED)); // a stale record
            t.agent.reconciler().sweepNow(SWEEP);
            assertEquals(PowerState.RUNNING, record(t, uuid).powerState());
            assertEquals(VmState.ACTIVE, record(t, uuid).vmState());
        }
    }

    @Test
    void lifecycleEventsUpdateTheStateBetweenSweeps() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\n")) {
            UUID uuid = t.spawnAndWait("events");
            t.fake().powerOff(uuid, Duration.ofSeconds(1)); // emits STOPPED
            t.awaitInstance(uuid, i -> i.get("vm_state").asText().equals("stopped"));
            assertTrue(t.agent.store().events(uuid, 20).stream().anyMatch(e -> e.detail() != null
                    && e.kind().equals("lifecycle") && e.detail().equals("STOPPED")));
        }
    }

    private static void deletedButPresent(String action, boolean expectPresent, PowerState expectState) throws Exception {
        try (TestAgent t = new TestAgent("running_deleted_instance_action: " + action + "\ndrivers: {fake: {}}\n")) {
            UUID uuid = t.spawnAndWait("zombie");
            InstanceRecord r = record(t, uuid);
            t.agent.store().update(r.withState(VmState.DELETED, PowerState.NOSTATE)); // store says deleted
            t.agent.reconciler().sweepNow(SWEEP);
            assertEquals(expectPresent, t.fake().uuids().contains(uuid), action);
            if (expectPresent) {
                assertEquals(expectState, t.fake().info(uuid).powerState(), action);
                t.fake().destroy(uuid);
            }
            assertEquals(VmState.DELETED, record(t, uuid).vmState(), "the record stays deleted");
        }
    }

    @Test
    void runningDeletedReapDestroys() throws Exception {
        deletedButPresent("reap", false, null);
    }

    @Test
    void runningDeletedShutdownKeepsItForDiagnosis() throws Exception {
        deletedButPresent("shutdown", true, PowerState.SHUTDOWN);
    }

    @Test
    void runningDeletedLogAndNoopLeaveItRunning() throws Exception {
        deletedButPresent("log", true, PowerState.RUNNING);
        deletedButPresent("noop", true, PowerState.RUNNING);
    }

    private static InstanceRecord journaled(InstanceSpec spec, String task, VmState vm) {
        Instant now = Instant.now();
        return new InstanceRecord(spec.uuid(), spec.name(), "fake", SpecJson.writeString(spec), 1, 512, 1, vm,
                PowerState.NOSTATE, task, null, null, now, now);
    }

    @Test
    void interruptedSpawnIsFinishedOrRolledBackAtRestart() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\n")) {
            InstanceSpec done = spec("made-it");
            InstanceSpec lost = spec("never-made-it");
            InstanceSpec half = spec("half-built");
            t.agent.store().insert(journaled(done, "spawning", VmState.BUILDING));
            t.agent.store().insert(journaled(lost, "spawning", VmState.BUILDING));
            t.agent.store().insert(journaled(half, "spawning", VmState.BUILDING));
            t.fake().spawn(done); // the backend got this one before the "crash"
            t.fake().spawn(half);
            t.fake().powerOff(half.uuid(), Duration.ofSeconds(1)); // created, but not RUNNING as the spec asks
            t.restart(); // the first sweep of the new agent handles both
            t.agent.reconciler().sweepNow(SWEEP);
            InstanceRecord a = record(t, done.uuid());
            assertEquals(VmState.ACTIVE, a.vmState());
            assertNull(a.taskState());
            InstanceRecord b = record(t, lost.uuid());
            assertEquals(VmState.ERROR, b.vmState());
            assertNull(b.taskState());
            assertTrue(b.fault().contains("interrupted"), b.fault());
            assertFalse(t.fake().uuids().contains(half.uuid()), "a half-built instance is rolled back");
            assertEquals(VmState.ERROR, record(t, half.uuid()).vmState());
        }
    }

    @Test
    void interruptedDeleteIsFinishedAtRestart() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\n")) {
            UUID uuid = t.spawnAndWait("half-deleted");
            t.agent.store().update(record(t, uuid).withTask("deleting"));
            t.restart();
            t.agent.reconciler().sweepNow(SWEEP);
            assertEquals(VmState.DELETED, record(t, uuid).vmState());
            assertFalse(t.fake().uuids().contains(uuid));
        }
    }

    /** Simulates a host reboot: the backend has the guest powered off while the store still says active. */
    private static UUID hostRebootWithGuestOff(TestAgent t) throws Exception {
        UUID uuid = t.spawnAndWait("guest");
        t.agent.close();
        java.nio.file.Path backend = t.dir.resolve("instances/fake/instances.json");
        java.nio.file.Files.writeString(backend, java.nio.file.Files.readString(backend).replace("RUNNING", "SHUTDOWN"));
        t.start();
        t.agent.reconciler().sweepNow(SWEEP); // after the first sweep, which ran at start
        return uuid;
    }

    @Test
    void resumeGuestsStateOnHostBootPowersOnWhatWasActive() throws Exception {
        try (TestAgent t = new TestAgent("resume_guests_state_on_host_boot: true\ndrivers: {fake: {}}\n")) {
            UUID uuid = hostRebootWithGuestOff(t);
            assertEquals(PowerState.RUNNING, t.fake().info(uuid).powerState());
            assertEquals(VmState.ACTIVE, record(t, uuid).vmState());
            assertTrue(t.agent.store().events(uuid, 20).stream().anyMatch(e -> e.kind().equals("reconcile.resumed_guest")));
        }
    }

    @Test
    void withoutResumeGuestsTheyStayOffAndTheStoreSaysStopped() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}}\n")) {
            UUID uuid = hostRebootWithGuestOff(t);
            assertEquals(PowerState.SHUTDOWN, t.fake().info(uuid).powerState());
            assertEquals(VmState.STOPPED, record(t, uuid).vmState());
        }
    }

    @Test
    void unavailableDriverIsReportedRetriedAndItsRecordsAreNotMarked() throws Exception {
        try (TestAgent t = new TestAgent("drivers: {fake: {}, flaky: {options: {fail_times: 3}}}\n")) {
            var d = t.call("GET", "/v1/drivers", null).json().get("drivers");
            var flaky = d.get(0).get("name").asText().equals("flaky") ? d.get(0) : d.get(1);
            assertFalse(flaky.get("available").asBoolean(), flaky.toString());
            assertTrue(flaky.get("error").asText().contains("connection refused"), flaky.toString());
            var spawn = t.call("POST", "/v1/instances", TestAgent.spawnBody("flaky", "x", 64));
            assertEquals(503, spawn.status(), spawn.body());
            assertEquals(200, t.call("GET", "/healthz", null, null).status(), "the agent stays up");
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (t.agent.drivers().find("flaky").isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(t.agent.drivers().find("flaky").isPresent(), "connected after retries with backoff");
        }
    }
}
