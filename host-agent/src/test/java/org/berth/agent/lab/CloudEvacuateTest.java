package org.berth.agent.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.berth.agent.cli.BerthCli;
import org.berth.agent.cloud.CloudCommand;
import org.berth.agent.cloud.CloudHosts;
import org.berth.agent.cloud.CloudPlacement;
import org.berth.agent.cloud.Replicas;
import org.berth.lab.Cmd;
import org.berth.lab.Lab;
import org.berth.lab.Lab.LabHost;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 16's evacuate on the 3-host lab with the real Placement and OVN. The test plays Neutron (a logical switch
 * with OVN DHCP, ports without requested-chassis so the rebuilt instances bind wherever they land), spawns a VM and a
 * container on host B and a peer container on host A, publishes their spec replicas, and checks that evacuate of B is
 * refused while B's agent answers and while its chassis is still registered. Then B loses power (agent kill -9,
 * ovn-controller gone and its chassis deleted, the instances' processes killed): {@code berth cloud evacuate lab-h2}
 * rebuilds both on A/C with the same uuid, MAC and IP, bound to the new chassis, pinging the peer. B comes back
 * ({@code lab.sh up 3}): its agent destroys its stale copies, its allocations go, nothing runs twice.
 */
class CloudEvacuateTest {
    private static final String NET = "198.18.230";
    private static final String VM_IP = NET + ".11";
    private static final String C_IP = NET + ".12";
    private static final String PEER_IP = NET + ".13";
    private static final int MTU = 1442;
    private static final Duration CMD = Duration.ofSeconds(60);
    private static final Duration SETTLE = Duration.ofSeconds(60);

    private static Lab lab;
    private static LabNeutron neutron;

    @BeforeAll
    static void lab() {
        lab = Lab.shared(3, OvnAcrossHostsTest.VIF_PLUGGING_TIMEOUT);
        neutron = new LabNeutron(lab, "berth-evac-net-");
        System.out.printf("lab up (3 hosts) in %.1f s%n", lab.upSeconds);
    }

    @AfterAll
    static void neutronCleanup() {
        if (neutron != null) {
            neutron.delete();
        }
    }

    @Test
    @Timeout(600)
    void aDeadHostsInstancesAreRebuiltElsewhereAndItsStaleCopiesGoWhenItReturns() throws Exception {
        LabHost a = lab.host(0);
        LabHost b = lab.host(1);
        CloudCommand.Cloud cloud = new CloudCommand.Cloud(CloudHosts.load(lab.hostsFile()), Duration.ofSeconds(10));
        CloudPlacement placement = cloud.placement();
        LabGuests guests = new LabGuests();
        Map<UUID, LabHost> rebuiltOn = new LinkedHashMap<>();
        Map<UUID, String> portOf = new LinkedHashMap<>();
        List<UUID> spawned = new ArrayList<>();
        boolean bDown = false;
        long t0 = System.nanoTime();
        try {
            String vmPort = UUID.randomUUID().toString();
            String cPort = UUID.randomUUID().toString();
            String peerPort = UUID.randomUUID().toString();
            String vmMac = LabGuests.mac();
            String cMac = LabGuests.mac();
            String peerMac = LabGuests.mac();
            // no requested-chassis: a rebuilt instance's port binds on whichever chassis it lands
            neutron.create(NET, MTU);
            neutron.port(vmPort, vmMac, VM_IP, null);
            neutron.port(cPort, cMac, C_IP, null);
            neutron.port(peerPort, peerMac, PEER_IP, null);
            UUID vm = guests.vm(b, vmPort, LabGuests.vif(vmPort, vmMac, MTU, null),
                    "console=ttyS0 berth.ip=dhcp berth.mac=" + vmMac + " berth.ping=" + PEER_IP);
            UUID c = guests.container(b, cPort, LabGuests.vif(cPort, cMac, MTU, C_IP + "/24"));
            UUID peer = guests.container(a, peerPort, LabGuests.vif(peerPort, peerMac, MTU, PEER_IP + "/24"));
            spawned.addAll(List.of(vm, c, peer));
            portOf.put(vm, vmPort);
            portOf.put(c, cPort);
            LabGuests.awaitActive(b, vm);
            LabGuests.awaitActive(b, c);
            LabGuests.awaitActive(a, peer);
            for (UUID u : List.of(vm, c)) {
                Replicas.Spread s = Replicas.publish(cloud, b.name(), u);
                assertEquals(List.of(a.name(), b.name(), lab.host(2).name()), s.done(), "replica of " + u + ": " + s);
            }
            UUID rpB = placement.provider(b.name()).orElseThrow().uuid();
            awaitHolders(placement, vm, Set.of(rpB));
            awaitHolders(placement, c, Set.of(rpB));
            LabGuests.awaitConsole(b, vm, "BERTH-PING " + PEER_IP, Duration.ofSeconds(120));
            LabNeutron.awaitPing(LabGuests.pidOf(b, c), PEER_IP, SETTLE);
            step("VM and container active on " + b.name() + " and pinging the peer on " + a.name()
                    + "; replicas on every host; allocations on " + b.name(), t0);

            Run live = evacuate(b.name());
            assertEquals(1, live.exit(), live.toString());
            assertTrue(live.err().contains("check 1 (agent unreachable) failed"), live.toString());

            // power loss, step 1: the agent dies; OVN still has the chassis (its ovn-controller runs)
            bDown = true;
            kill9(b, "agent.pid");
            awaitUnreachable(cloud, b);
            Run chassisThere = evacuate(b.name());
            assertEquals(1, chassisThere.exit(), chassisThere.toString());
            assertTrue(chassisThere.err().contains("check 2 (OVN chassis gone) failed")
                    && chassisThere.err().contains(b.chassis()), chassisThere.toString());
            step("evacuate refused while the agent answered, then while the chassis was there", t0);

            // the rest of the power loss: ovn-controller gone and fenced (chassis deleted), the guests' processes gone
            kill9(b, "ovn-controller.pid");
            lab.sbctl("chassis-del", b.chassis()).orThrow();
            // QEMU's pidfile in the host's embedded libvirt root (lab.sh: qemu:///embed?root=DIR/libvirt): the
            // process of that VM on that host only (kill fails if it was not running)
            kill9(b, "libvirt/run/qemu/berth-" + vm + ".pid");
            Cmd.run(CMD, List.of("docker", "kill", LabGuests.containerName(b, c))).orThrow();

            long te = System.nanoTime();
            Run evac = evacuate(b.name());
            double evacS = (System.nanoTime() - te) / 1e9;
            assertEquals(0, evac.exit(), evac.toString());
            for (UUID u : List.of(vm, c)) {
                LabHost to = hostOf(cloud, u, b);
                assertTrue(evac.out().contains(u.toString()) && evac.out().contains(to.name()), evac.toString());
                rebuiltOn.put(u, to);
                JsonNode i = LabGuests.instance(to, u);
                assertEquals("active", i.get("vm_state").asText(), i.toString());
                assertEquals(portOf.get(u), i.at("/spec/vifs/0/port_id").asText());
                assertEquals(b.name(), i.at("/spec/properties/berth.evacuated_from").asText(), i.toString());
                UUID rpTo = placement.provider(to.name()).orElseThrow().uuid();
                assertEquals(Set.of(rpB, rpTo), placement.consumer(u).allocations().keySet(),
                        "the source's part stays until the source is back (Nova)");
                awaitChassis(portOf.get(u), to.chassis());
                JsonNode replica = a.equals(to) ? lab.host(2).call("GET", "/v1/replicas/" + u, null).json()
                        : a.call("GET", "/v1/replicas/" + u, null).json();
                assertEquals(to.name(), replica.at("/replica/host").asText(), "republished: " + replica);
            }
            LabHost vmTo = rebuiltOn.get(vm);
            LabHost cTo = rebuiltOn.get(c);
            assertEquals(vmMac, LabGuests.instance(vmTo, vm).at("/spec/vifs/0/mac").asText());
            assertEquals(cMac, LabGuests.instance(cTo, c).at("/spec/vifs/0/mac").asText());
            assertEquals(C_IP + "/24", LabGuests.instance(cTo, c).at("/spec/vifs/0/ips/0").asText());
            step(String.format("evacuate took %.1f s: VM -> %s, container -> %s; ports bound there%n%s", evacS,
                    vmTo.name(), cTo.name(), evac.out().strip()), t0);

            long cPid = LabGuests.pidOf(cTo, c);
            String link = LabGuests.inContainerNet(cPid, CMD, "ip", "-o", "addr", "show", "eth0").orThrow();
            assertTrue(link.contains(C_IP + "/24"), "the rebuilt container has its address: " + link);
            assertTrue(LabGuests.inContainerNet(cPid, CMD, "ip", "-o", "link", "show", "eth0").orThrow()
                    .contains(cMac), "and its MAC");
            LabNeutron.awaitPing(cPid, PEER_IP, SETTLE);
            String console = LabGuests.awaitConsole(vmTo, vm, "BERTH-PING " + PEER_IP, Duration.ofSeconds(180));
            assertTrue(console.contains("BERTH-NET eth0 " + VM_IP + "/24 mac " + vmMac),
                    "the rebuilt VM took its address from OVN's DHCP: " + LabGuests.line(console, "BERTH-NET"));
            assertTrue(console.contains("BERTH-PING " + PEER_IP + " ok"), "the rebuilt VM pings the peer");
            LabNeutron.awaitPing(cPid, VM_IP, SETTLE);
            step("rebuilt VM and container ping the peer (and each other)", t0);

            // B comes back: lab.sh up restarts its ovn-controller and agent; the agent destroys its stale copies
            long tb = System.nanoTime();
            Cmd.Result up = lab.script(Duration.ofMinutes(3), "up", "3");
            assertTrue(up.ok(), "lab.sh up brings " + b.name() + " back: " + up.stdout() + up.stderr());
            bDown = false;
            assertTrue(up.stdout().contains("lab-h2 agent"), "it restarted B's agent: " + up.stdout());
            assertEquals(b.chassis(), lab.sbctl("--bare", "--columns=name", "find", "Chassis", "name=" + b.chassis())
                    .orThrow().strip(), "B's chassis is back");
            for (UUID u : List.of(vm, c)) {
                LabGuests.await(b, u, SETTLE, "gone from " + b.name(), n -> n == null);
                assertEquals(List.of(), LabGuests.awaitNoLeftovers(b, u, List.of(portOf.get(u)), Duration.ofSeconds(30)),
                        "nothing of the stale copy on " + b.name());
                UUID rpTo = placement.provider(rebuiltOn.get(u).name()).orElseThrow().uuid();
                awaitHolders(placement, u, Set.of(rpTo));
                assertEquals("active", LabGuests.instance(rebuiltOn.get(u), u).get("vm_state").asText());
                awaitChassis(portOf.get(u), rebuiltOn.get(u).chassis());
            }
            String log = Files.readString(b.agentLog());
            assertTrue(log.contains("instance " + vm + ": evacuated: rebuilt on " + vmTo.name()), "B's agent says so");
            step(String.format("%s back in %.1f s: stale copies destroyed, its allocations gone, ports stay bound "
                    + "to the new hosts", b.name(), (System.nanoTime() - tb) / 1e9), t0);
            LabNeutron.awaitPing(LabGuests.pidOf(cTo, c), PEER_IP, SETTLE);
            LabNeutron.awaitPing(LabGuests.pidOf(cTo, c), VM_IP, SETTLE);
            step("still pinging after B's return: nothing runs twice", t0);
        } finally {
            if (bDown) {
                Cmd.Result up = lab.script(Duration.ofMinutes(3), "up", "3");
                System.out.println("bringing " + b.name() + " back after a failure: " + up.stdout() + up.stderr());
            }
            List<String> problems = new ArrayList<>();
            for (var e : rebuiltOn.entrySet()) {
                LabHost.Reply r = e.getValue().call("DELETE", "/v1/instances/" + e.getKey(), null);
                if (r.status() != 202 && r.status() != 404) {
                    problems.add("DELETE " + e.getKey() + " on " + e.getValue().name() + ": " + r.status());
                }
            }
            for (var e : rebuiltOn.entrySet()) {
                LabGuests.await(e.getValue(), e.getKey(), LabGuests.DELETE_LIMIT, "deleted", n -> n == null);
                for (LabHost h : lab.hosts()) {
                    problems.addAll(LabGuests.awaitNoLeftovers(h, e.getKey(), List.of(portOf.get(e.getKey())),
                            Duration.ofSeconds(15)));
                }
            }
            problems.addAll(guests.destroyAndCheck());
            for (UUID u : portOf.keySet()) {
                Replicas.Spread s = Replicas.withdraw(cloud, u);
                if (!s.missed().isEmpty()) {
                    problems.add("replica of " + u + " not withdrawn from " + s.missed());
                }
                for (LabHost h : lab.hosts()) {
                    if (h.call("GET", "/v1/replicas/" + u, null).status() != 404) {
                        problems.add("replica of " + u + " left on " + h.name());
                    }
                }
            }
            for (UUID u : spawned) {
                try {
                    awaitHolders(placement, u, Set.of());
                } catch (AssertionError e) {
                    problems.add(e.getMessage());
                }
            }
            assertTrue(problems.isEmpty(), "cleanup: " + problems);
        }
        step("cleaned up: instances, containers, QEMU, OVS ports, replicas, allocations", t0);
    }

    private record Run(int exit, String out, String err) {
    }

    private static Run evacuate(String host) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = BerthCli.run(new String[] {"cloud", "--hosts", lab.hostsFile().toString(), "--timeout", "5s",
                "evacuate", host, "--wait-timeout", "240s"}, new PrintWriter(out), new PrintWriter(err), Map.of());
        return new Run(exit, out.toString(), err.toString());
    }

    /** The host (other than {@code not}) whose agent has the instance. */
    private static LabHost hostOf(CloudCommand.Cloud cloud, UUID uuid, LabHost not) throws Exception {
        for (LabHost h : lab.hosts()) {
            if (!h.equals(not) && LabGuests.instance(h, uuid) != null) {
                return h;
            }
        }
        return fail("no host other than " + not.name() + " has " + uuid);
    }

    private static void kill9(LabHost h, String pidfile) throws Exception {
        String pid = Files.readString(h.dir().resolve(pidfile)).strip();
        Cmd.run(CMD, List.of("kill", "-9", pid)).orThrow();
        long deadline = System.nanoTime() + CMD.toNanos();
        while (Files.exists(java.nio.file.Path.of("/proc/" + pid)) && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
    }

    private static void awaitUnreachable(CloudCommand.Cloud cloud, LabHost h) throws InterruptedException {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        while (cloud.agent(h.name()).reachable()) {
            if (System.nanoTime() > deadline) {
                fail(h.name() + "'s agent still answers after kill -9");
            }
            Thread.sleep(200);
        }
    }

    private static void awaitHolders(CloudPlacement placement, UUID consumer, Set<UUID> providers)
            throws InterruptedException {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        Set<UUID> last = null;
        while (System.nanoTime() < deadline) {
            last = placement.consumer(consumer).allocations().keySet();
            if (last.equals(providers)) {
                return;
            }
            Thread.sleep(500);
        }
        fail("consumer " + consumer + " has allocations on " + last + ", expected " + providers);
    }

    private static void awaitChassis(String port, String chassis) throws InterruptedException {
        long deadline = System.nanoTime() + SETTLE.toNanos();
        String last = null;
        while (System.nanoTime() < deadline) {
            last = lab.chassisOf(port);
            if (last.equals(chassis)) {
                return;
            }
            Thread.sleep(500);
        }
        fail("port " + port + " is bound to '" + last + "', expected " + chassis);
    }

    private static void step(String what, long t0) {
        System.out.printf("[%6.1f s] %s%n", (System.nanoTime() - t0) / 1e9, what);
    }
}
