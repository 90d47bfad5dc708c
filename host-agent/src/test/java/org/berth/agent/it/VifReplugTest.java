package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Reconcile re-plugs VIFs lost behind the agent's back (as a host network restart or an OVS database reset loses
 * them): with a container and a VM running and reaching each other on br-int, the agent is stopped, the VM's OVS
 * port and the container's host-side veth (with its OVS port) are deleted, and the restarted agent's first sweep
 * plugs both again, with the right external_ids, and the two reach each other again.
 */
class VifReplugTest {
    private static final String C_IP = "198.18.22.30";
    private static final String VM_IP = "198.18.22.31";

    @Test
    @Timeout(1200)
    void restartedAgentReplugsLostVifs() throws Exception {
        Guests.withAgent("VifReplugTest", new Guests(), VifReplugTest::run);
    }

    private static void run(AgentProcess agent, Guests guests, long t0) throws Exception {
        UUID c = UUID.randomUUID();
        Guests.spawn(agent, guests.containerBody(c, Guests.busybox(), C_IP + "/24"));
        String cPort = Guests.portsOf(agent.awaitRunning(c, Guests.SPAWN_LIMIT)).getFirst();
        UUID vm = UUID.randomUUID();
        Guests.spawn(agent, guests.vmBody(vm, Guests.guestKernel(), VM_IP + "/24", C_IP));
        JsonNode vmRec = agent.awaitRunning(vm, Guests.SPAWN_LIMIT);
        String vmPort = Guests.portsOf(vmRec).getFirst();
        Guests.awaitConsole(agent, vm, "BERTH-PING " + C_IP, Duration.ofSeconds(300));
        Checks.awaitPing(c, VM_IP, Duration.ofSeconds(90));
        Guests.step("container and VM reach each other", t0);

        int exit = agent.stop();
        assertTrue(exit == 0 || exit == 143, "the agent stops cleanly on SIGTERM, exit " + exit);
        // what a host network restart loses: the VM's port (its tap stays: QEMU holds it) and the container's veth
        assertTrue(Host.run("ovs-vsctl", "--timeout=10", "del-port", "br-int", Host.tapOf(vmPort)).ok());
        assertTrue(Host.run("ip", "link", "del", Host.tapOf(cPort)).ok());
        assertTrue(Host.run("ovs-vsctl", "--timeout=10", "--if-exists", "del-port", "br-int", Host.tapOf(cPort)).ok());
        assertFalse(Host.brIntHasPort(Host.tapOf(vmPort)) || Host.brIntHasPort(Host.tapOf(cPort)), "ports deleted");
        assertFalse(Host.containerPings(c, VM_IP), "without their ports the two cannot reach each other");
        Guests.step("ports deleted behind the agent's back, agent stopped", t0);

        agent.start();
        Guests.step("agent restarted", t0);
        for (var vif : List.of(Map.entry(c, cPort), Map.entry(vm, vmPort))) {
            Map<String, String> ids = awaitReplugged(vif.getValue(), Duration.ofSeconds(120));
            assertEquals(Host.tapOf(vif.getValue()), ids.get("name"));
            assertEquals(vif.getKey().toString(), ids.get("vm-uuid"), ids.toString());
            assertEquals("active", ids.get("iface-status"), ids.toString());
            JsonNode rec = agent.instance(vif.getKey());
            assertEquals(rec.at("/spec/vifs/0/mac").asText(), ids.get("attached-mac"), ids.toString());
            assertEquals("RUNNING", rec.get("power_state").asText(), rec.toString());
        }
        Guests.step("both ports re-plugged with their external_ids", t0);
        Checks.awaitPing(c, VM_IP, Duration.ofSeconds(90));
        Guests.step("container and VM reach each other again", t0);
    }

    private static Map<String, String> awaitReplugged(String port, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            var ids = Host.ovsInterface(port);
            if (ids.isPresent() && Host.brIntHasPort(Host.tapOf(port)) && Host.linkExists(Host.tapOf(port))) {
                return ids.get();
            }
            Thread.sleep(500);
        }
        return fail("port " + port + " was not re-plugged within " + limit.toSeconds() + " s");
    }
}
