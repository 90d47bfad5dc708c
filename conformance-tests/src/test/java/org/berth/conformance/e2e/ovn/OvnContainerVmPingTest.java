package org.berth.conformance.e2e.ovn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.conformance.Harness;
import org.berth.conformance.HostOvs;
import org.berth.conformance.e2e.GuestConsole;
import org.berth.conformance.e2e.Teardown;
import org.berth.conformance.host.HostCommand;
import org.berth.conformance.leak.LeakCheck;
import org.berth.driver.api.DriverRegistry;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.Image;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * End to end with real OVN (Debian's ovn-central + ovn-host, started by {@link LocalOvn} on unix sockets): a logical
 * switch whose logical ports are named by Berth's port ids; the docker driver spawns a container and the kvm driver a
 * VM, ovs-vif plugs both into OVN's integration bridge with the os-vif keys, ovn-controller binds both ports
 * ({@code lsp-get-up} says {@code up}) and they ping each other. That the traffic is OVN's is shown four ways: the
 * bridge is {@code fail_mode=secure} with OVN's multi-table pipeline and no NORMAL flow, OVN's table-0 flows for both
 * ports counted the packets, {@code ovn-trace} sends the container's echo request to the VM's logical port, and an
 * OVN ACL that drops ICMP stops the ping until it is deleted. Uses 198.18.21.0/24.
 */
class OvnContainerVmPingTest {
    private static final DriverRegistry REGISTRY = DriverRegistry.load(OvnContainerVmPingTest.class.getClassLoader());
    private static final String CONTAINER_IP = "198.18.21.2";
    private static final String VM_IP = "198.18.21.3";
    private static final Duration PORT_UP = Duration.ofSeconds(90);

    private static VifSpec vif(String bridge, String ip) {
        byte[] tail = new byte[2];
        ThreadLocalRandom.current().nextBytes(tail);
        return new VifSpec(UUID.randomUUID().toString(), "fa:16:3e:15:" + HexFormat.ofDelimiter(":").formatHex(tail),
                bridge, 1500, Optional.empty(), List.of(IpAddress.parseCidr(ip + "/24", "ip")), Optional.empty());
    }

    @Test
    @Timeout(420)
    void containerAndVmPingEachOtherThroughOvn() throws InterruptedException {
        Harness docker = Harness.of(REGISTRY.get("docker"), Optional.of(HostOvs.plugger()));
        Harness kvm = Harness.of(REGISTRY.get("kvm"), Optional.of(HostOvs.plugger()));
        Image kernel = kvm.images().list().stream().filter(i -> i.name().equals("berth-guest-kernel")).findFirst()
                .orElseThrow(() -> new AssertionError("berth-guest-kernel missing: run images/build.sh"));
        String suffix = HexFormat.of().toHexDigits((short) ThreadLocalRandom.current().nextInt(1 << 16));
        String lswitch = "berth-ls-" + suffix;
        UUID containerId = UUID.randomUUID();
        UUID vmId = UUID.randomUUID();
        var problems = new ArrayList<String>();

        long t0 = System.nanoTime();
        LocalOvn ovn = LocalOvn.start("br-ovn-" + suffix);
        long ovnUp = System.nanoTime();
        VifSpec containerVif = vif(ovn.bridge(), CONTAINER_IP);
        VifSpec vmVif = vif(ovn.bridge(), VM_IP);
        try {
            ovn.nbctl("ls-add", lswitch);
            for (VifSpec v : List.of(containerVif, vmVif)) {
                ovn.nbctl("lsp-add", lswitch, v.portId());
                ovn.nbctl("lsp-set-addresses", v.portId(), v.mac() + " " + v.ips().getFirst().address().getHostAddress());
                assertEquals("down", ovn.nbctl("lsp-get-up", v.portId()).strip(), "bound before Berth plugged it");
            }

            var c = docker.driver().spawn(InstanceSpec.of(containerId, "ovn-peer", Flavor.tiny(), docker.bootImage().id())
                    .withVifs(List.of(containerVif)));
            assertEquals(PowerState.RUNNING, c.powerState());
            var vm = kvm.driver().spawn(InstanceSpec.of(vmId, "ovn-vm", Flavor.tiny(), kernel.id())
                    .withVifs(List.of(vmVif))
                    .withProperties(Map.of(Image.OS_COMMAND_LINE, "console=ttyS0 berth.ping=" + CONTAINER_IP)));
            assertEquals(PowerState.RUNNING, vm.powerState());
            long spawned = System.nanoTime();

            String chassisUuid = ovn.chassisUuid();
            for (VifSpec v : List.of(containerVif, vmVif)) {
                LocalOvn.poll("lsp-get-up " + v.portId() + " = up", PORT_UP,
                        () -> ovn.nbctl("lsp-get-up", v.portId()).strip().equals("up"));
                assertEquals(chassisUuid, ovn.sbctl("--bare", "--columns=chassis", "find", "Port_Binding",
                        "logical_port=" + v.portId()).strip(), "port " + v.portId() + " bound to this host's chassis");
            }

            long portsUp = System.nanoTime();
            System.out.printf("OVN e2e: OVN started in %d ms; container+VM spawned in %d ms; both ports up %d ms later%n",
                    (ovnUp - t0) / 1_000_000, (spawned - ovnUp) / 1_000_000, (portsUp - spawned) / 1_000_000);
            // VM -> container: the guest pings from its init (up to 60 s) and prints the result.
            String console = GuestConsole.await(kvm.driver(), vmId, "BERTH-PING " + CONTAINER_IP, Duration.ofSeconds(180));
            assertTrue(console.contains("BERTH-NET") && console.contains(VM_IP + "/24"), console);
            assertTrue(console.contains("BERTH-PING " + CONTAINER_IP + " ok"),
                    "the VM did not reach the container through OVN: " + console + ovn.logTail("ovn-controller.log"));
            // container -> VM
            assertTrue(awaitPing(containerId, VM_IP, Duration.ofSeconds(60)), "the container did not reach the VM");

            assertTrafficIsOvns(ovn, lswitch, containerVif, vmVif, containerId);
        } finally {
            problems.addAll(Teardown.destroyAll(List.of(Map.entry(docker.driver(), containerId),
                    Map.entry(kvm.driver(), vmId))));
            try {
                ovn.nbctl("--if-exists", "ls-del", lswitch);
                assertFalse(ovn.nbctl("ls-list").contains(lswitch), "logical switch still listed");
                LocalOvn.poll("the port bindings to go", Duration.ofSeconds(30), () -> ovn.sbctl("--bare",
                        "--columns=logical_port", "list", "Port_Binding").isBlank());
            } catch (AssertionError e) {
                problems.add("delete logical switch " + lswitch + ": " + e.getMessage());
            }
            long closing = System.nanoTime();
            ovn.close();
            System.out.printf("OVN e2e: OVN stopped and host configuration undone in %d ms%n",
                    (System.nanoTime() - closing) / 1_000_000);
        }
        problems.addAll(LeakCheck.leftovers(List.of(containerId, vmId),
                List.of(containerVif.portId(), vmVif.portId()), kvm.stateDir()));
        problems.addAll(LeakCheck.leftovers(List.of(containerId), List.of(), docker.stateDir()));
        problems.addAll(ovn.leftovers());
        assertTrue(problems.isEmpty(), () -> "left behind: " + problems);
    }

    /** The four proofs that OVN's pipeline, not a plain learning switch, carried the pings. */
    private static void assertTrafficIsOvns(LocalOvn ovn, String lswitch, VifSpec containerVif, VifSpec vmVif,
                                            UUID containerId) throws InterruptedException {
        // 1. OVN's pipeline on a bridge that forwards nothing by itself.
        assertEquals("secure", HostCommand.run(Duration.ofSeconds(20), "ovs-vsctl", "--timeout=10", "get", "Bridge",
                ovn.bridge(), "fail_mode").stdout().strip());
        String flows = ovn.dumpFlows();
        assertFalse(flows.contains("actions=NORMAL"), "a NORMAL flow on the OVN bridge:\n" + flows);
        long tables = flows.lines().map(l -> Pattern.compile("table=(\\d+)").matcher(l))
                .filter(Matcher::find).map(m -> m.group(1)).distinct().count();
        assertTrue(tables >= 20, "only " + tables + " OpenFlow tables, not OVN's pipeline:\n" + flows);
        // 2. The packets went through OVN's ingress flows of both ports (table 0, in_port -> logical port).
        for (VifSpec v : List.of(containerVif, vmVif)) {
            String ofport = HostCommand.run(Duration.ofSeconds(20), "ovs-vsctl", "--timeout=10", "get", "Interface",
                    v.devName(), "ofport").stdout().strip();
            String ingress = ovn.dumpFlows("table=0,in_port=" + ofport);
            Matcher packets = Pattern.compile("n_packets=(\\d+).*resubmit\\(,8\\)").matcher(ingress);
            assertTrue(packets.find() && Long.parseLong(packets.group(1)) > 0,
                    "OVN's ingress flow of " + v.devName() + " (ofport " + ofport + ") counted no packet:\n" + ingress);
        }
        // 3. OVN's logical flows deliver the container's echo request to the VM's logical port.
        String trace = ovn.trace(lswitch, "inport == \"" + containerVif.portId() + "\" && eth.src == " + containerVif.mac()
                + " && eth.dst == " + vmVif.mac() + " && ip4.src == " + CONTAINER_IP + " && ip4.dst == " + VM_IP
                + " && ip.ttl == 64 && icmp4.type == 8");
        assertTrue(trace.contains("output to \"" + vmVif.portId() + "\""), trace);
        // 4. OVN decides: an ACL dropping the container's ICMP stops the ping, deleting it lets it through again.
        ovn.nbctl("--wait=hv", "acl-add", lswitch, "from-lport", "1001",
                "inport == \"" + containerVif.portId() + "\" && icmp4", "drop");
        assertFalse(ping(containerId, VM_IP).ok(), "the ping passed an OVN ACL that drops it");
        ovn.nbctl("--wait=hv", "acl-del", lswitch);
        assertTrue(awaitPing(containerId, VM_IP, Duration.ofSeconds(30)), "no ping after the ACL was deleted");
    }

    private static HostCommand.Result ping(UUID container, String ip) {
        return HostCommand.run(Duration.ofSeconds(20), "docker", "exec", InstanceSpec.backendName(container),
                "ping", "-c", "2", "-W", "2", ip);
    }

    private static boolean awaitPing(UUID container, String ip, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!ping(container, ip).ok()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(500);
        }
        return true;
    }
}
