package org.berth.agent.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.lab.Cmd;
import org.berth.lab.Lab;
import org.berth.lab.Lab.LabHost;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 15 acceptance on the 3-host lab: the test plays Neutron (logical switch, ports with addresses and port
 * security, native DHCP, a port group with ACLs) through ovn-nbctl; Berth only plugs. A VM on host 1 and a
 * container on host 2 reach each other through a Geneve tunnel (ICMP, and TCP: a 4 MiB blob with its hash); a
 * security group drops TCP to the VM's port but lets ICMP through; port security drops a spoofed MAC; a port OVN
 * never binds fails its spawn after vif_plugging_timeout and leaves nothing on host 3.
 */
class OvnAcrossHostsTest {
    /** The lab's agents wait this long for ovn-installed (short, so the unbound case is quick). */
    static final Duration VIF_PLUGGING_TIMEOUT = Duration.ofSeconds(12);
    private static final String NET = "198.18.210";
    private static final String VM_IP = NET + ".11";
    private static final String C_IP = NET + ".12";
    private static final int MTU = 1442;
    private static final int HTTP_PORT = 5001;
    private static final Duration CMD = Duration.ofSeconds(60);

    private static Lab lab;
    private static LabNeutron neutron;
    private static final String PORT_GROUP = "pg_it_" + UUID.randomUUID().toString().substring(0, 8);

    @BeforeAll
    static void lab() {
        lab = Lab.shared(3, VIF_PLUGGING_TIMEOUT);
        neutron = new LabNeutron(lab, "berth-it-net-");
        System.out.printf("lab up (3 hosts) in %.1f s%n", lab.upSeconds);
    }

    @AfterAll
    static void neutronCleanup() {
        if (lab == null) {
            return;
        }
        lab.nbctl("--if-exists", "pg-del", PORT_GROUP);
        neutron.delete();
    }

    @Test
    @Timeout(900)
    void vmAndContainerOnTwoHostsShareANetworkThroughGeneve() throws Exception {
        LabHost a = lab.host(0);
        LabHost b = lab.host(1);
        LabGuests guests = new LabGuests();
        long t0 = System.nanoTime();
        try {
            String vmPort = UUID.randomUUID().toString();
            String cPort = UUID.randomUUID().toString();
            String vmMac = LabGuests.mac();
            String cMac = LabGuests.mac();
            // Neutron's part: a network with DHCP, two ports pinned to their hosts, port security on both
            neutron.create(NET, MTU);
            neutron.port(vmPort, vmMac, VM_IP, a.name());
            neutron.port(cPort, cMac, C_IP, b.name());

            UUID vm = guests.vm(a, vmPort, LabGuests.vif(vmPort, vmMac, MTU, null),
                    "console=ttyS0 berth.ip=dhcp berth.mac=" + vmMac + " berth.serve=" + HTTP_PORT
                            + " berth.ping=" + C_IP);
            // a container has no DHCP client with rights to configure its interface (no CAP_NET_ADMIN): the agent
            // sets the fixed IP of the port, the one OVN's DHCP hands out for it (checked below)
            UUID c = guests.container(b, cPort, LabGuests.vif(cPort, cMac, MTU, C_IP + "/24"));
            LabGuests.awaitActive(a, vm);
            LabGuests.awaitActive(b, c);
            step("VM active on " + a.name() + ", container active on " + b.name(), t0);

            for (UUID[] i : new UUID[][] {{vm}, {c}}) {
                LabHost h = i[0].equals(vm) ? a : b;
                List<JsonNode> ev = LabGuests.events(h, i[0]);
                assertTrue(ev.stream().anyMatch(e -> e.get("kind").asText().equals("vif.bound")
                                && e.path("detail").asText().contains("bound by OVN in")),
                        "the spawn's events show the binding time: " + ev);
            }
            assertEquals(a.name(), lab.chassisOf(vmPort), "the VM's port is bound to its host's chassis");
            assertEquals(b.name(), lab.chassisOf(cPort), "the container's port is bound to its host's chassis");

            String console = LabGuests.awaitConsole(a, vm, "BERTH-SERVE", Duration.ofSeconds(240));
            String net = LabGuests.line(console, "BERTH-NET");
            assertTrue(net.startsWith("eth0 " + VM_IP + "/24 mac " + vmMac + " mtu " + MTU),
                    "the VM took its address and MTU from OVN's DHCP: " + net);
            step("VM addressed by OVN DHCP: " + net, t0);

            long pid = LabGuests.pidOf(b, c);
            String cLink = LabGuests.inContainerNet(pid, CMD, "ip", "-o", "link", "show", "eth0").orThrow();
            assertTrue(cLink.contains("mtu " + MTU) && cLink.contains(cMac), "container eth0: " + cLink);
            Path script = Files.createTempFile("berth-lab-lease", ".sh");
            try {
                Files.writeString(script, "#!/bin/sh\n[ \"$1\" = bound ] && echo \"lease ip=$ip mtu=$mtu\"\nexit 0\n");
                script.toFile().setExecutable(true);
                Cmd.Result lease = LabGuests.inContainerNet(pid, CMD, "busybox", "udhcpc", "-i", "eth0", "-n", "-q",
                        "-t", "5", "-T", "1", "-s", script.toString());
                assertTrue(lease.stdout().contains("lease ip=" + C_IP + " mtu=" + MTU),
                        "OVN's DHCP offers the container's port its fixed IP and the tunnel's MTU: " + lease);
            } finally {
                Files.deleteIfExists(script);
            }

            String tunnel = tunnelPortTo(b, a);
            long txBefore = txPackets(b, tunnel);
            LabGuests.awaitConsole(a, vm, "BERTH-PING " + C_IP, Duration.ofSeconds(120));
            assertTrue(console(a, vm).contains("BERTH-PING " + C_IP + " ok"), "VM -> container ping across hosts");
            LabNeutron.awaitPing(pid, VM_IP, Duration.ofSeconds(60));
            long txAfter = txPackets(b, tunnel);
            assertTrue(txAfter - txBefore >= 3, "the pings left host " + b.name() + " through its Geneve port to "
                    + a.name() + " (" + tunnel + "): tx " + txBefore + " -> " + txAfter);
            step("ping both ways through Geneve", t0);

            String sha = LabGuests.line(console(a, vm), "BERTH-SERVE " + HTTP_PORT).split(" ")[0];
            assertEquals(sha, fetchBlob(pid), "4 MiB over TCP from the VM to the container, intact");
            Cmd.Result full = LabGuests.inContainerNet(pid, CMD, "ping", "-M", "do", "-s", Integer.toString(MTU - 28),
                    "-c", "3", "-W", "2", VM_IP);
            assertTrue(full.ok(), "full-MTU (" + MTU + ") packets with DF cross the tunnel: " + full);
            step("TCP transfer intact; " + MTU + "-byte packets with DF cross", t0);

            // a security group on the VM's port: ICMP allowed, TCP to the HTTP port dropped
            lab.nbctl("pg-add", PORT_GROUP, vmPort).orThrow();
            lab.nbctl("acl-add", PORT_GROUP, "to-lport", "1002", "outport == @" + PORT_GROUP + " && ip4 && icmp4",
                    "allow-related").orThrow();
            lab.nbctl("acl-add", PORT_GROUP, "to-lport", "1001", "outport == @" + PORT_GROUP + " && ip4 && tcp && "
                    + "tcp.dst == " + HTTP_PORT, "drop").orThrow();
            lab.nbctl("--wait=hv", "sync").orThrow();
            LabNeutron.awaitPing(pid, VM_IP, Duration.ofSeconds(30));
            Cmd.Result blocked = LabGuests.inContainerNet(pid, CMD, "curl", "-sS", "--max-time", "4", "-o",
                    "/dev/null", "http://" + VM_IP + ":" + HTTP_PORT + "/blob");
            assertEquals(28, blocked.exit(), "the security group drops TCP to port " + HTTP_PORT
                    + " (curl times out connecting): " + blocked);
            step("security group: ICMP passes, TCP " + HTTP_PORT + " dropped", t0);
            lab.nbctl("pg-del", PORT_GROUP).orThrow();
            lab.nbctl("--wait=hv", "sync").orThrow();
            assertEquals(sha, fetchBlob(pid), "without the security group TCP passes again");

            // port security: frames from another MAC than the port's never reach the VM; without port security
            // (the control) the same frames do
            String vmTap = "tap" + vmPort.substring(0, 11);
            long dropped = spoofedPingsReaching(pid, cMac, a, vmTap);
            lab.nbctl("lsp-set-port-security", cPort).orThrow();
            lab.nbctl("--wait=hv", "sync").orThrow();
            long passed = spoofedPingsReaching(pid, cMac, a, vmTap);
            lab.nbctl("lsp-set-port-security", cPort, cMac + " " + C_IP).orThrow();
            lab.nbctl("--wait=hv", "sync").orThrow();
            assertTrue(dropped < 5 && passed >= 5, "5 echo requests from a spoofed MAC: with port security "
                    + dropped + " reached the VM's port, without it " + passed);
            LabNeutron.awaitPing(pid, VM_IP, Duration.ofSeconds(30));
            step("port security: spoofed MAC dropped, real MAC passes", t0);
        } finally {
            guests.cleanUp();
        }
        step("both destroyed, nothing left on either host", t0);
    }

    @Test
    @Timeout(300)
    void aPortOvnNeverBindsFailsTheSpawnAfterVifPluggingTimeoutAndLeavesNothing() throws Exception {
        LabHost c = lab.host(2);
        LabGuests guests = new LabGuests();
        // no logical switch port of these names: OVN never binds them
        String cPort = UUID.randomUUID().toString();
        String vmPort = UUID.randomUUID().toString();
        long t0 = System.nanoTime();
        try {
            UUID container = guests.container(c, cPort, LabGuests.vif(cPort, LabGuests.mac(), MTU, NET + ".40/24"));
            String vmMac = LabGuests.mac();
            UUID vm = guests.vm(c, vmPort, LabGuests.vif(vmPort, vmMac, MTU, null),
                    "console=ttyS0 berth.ip=dhcp berth.mac=" + vmMac);
            for (Object[] x : new Object[][] {{container, cPort}, {vm, vmPort}}) {
                UUID uuid = (UUID) x[0];
                String port = (String) x[1];
                JsonNode i = LabGuests.await(c, uuid, VIF_PLUGGING_TIMEOUT.plusSeconds(120), "done spawning",
                        n -> n != null && n.get("task_state").isNull());
                double took = (System.nanoTime() - t0) / 1e9;
                assertEquals("error", i.get("vm_state").asText(), "the spawn failed: " + i);
                String fault = i.path("fault").asText();
                assertTrue(fault.contains("vif_plugging_timeout") && fault.contains(port) && fault.contains("OVN"),
                        "the fault says the port was never bound: " + fault);
                assertTrue(took >= VIF_PLUGGING_TIMEOUT.toSeconds(), "it waited vif_plugging_timeout: " + took + " s");
                // both spawns started together; each waits once: far less than two timeouts
                assertTrue(took < VIF_PLUGGING_TIMEOUT.toSeconds() + 60, "it gave up after the timeout: " + took + " s");
                List<String> left = LabGuests.awaitNoLeftovers(c, uuid, List.of(port), Duration.ofSeconds(15));
                assertTrue(left.isEmpty(), "a failed spawn leaves nothing on the host: " + left);
                step("unbound port: " + i.path("driver").asText() + " spawn failed after "
                        + String.format("%.1f", took) + " s, nothing left: " + fault, t0);
            }
        } finally {
            guests.cleanUp();
        }
    }

    @Test
    @Timeout(120)
    void aSecondUpOfTheLabTakesSeconds() {
        long t0 = System.nanoTime();
        Cmd.Result up = lab.script(Duration.ofSeconds(90), "up", "3");
        double s = (System.nanoTime() - t0) / 1e9;
        assertTrue(up.ok(), "second up: " + up.stdout() + up.stderr());
        assertTrue(s < 20, "a second up of a running lab only checks it: " + s + " s");
        Cmd.Result status = lab.script(Duration.ofSeconds(60), "status");
        assertTrue(status.ok(), "status after the second up: " + status.stdout() + status.stderr());
        System.out.printf("lab: second up in %.1f s%n", s);
    }

    /**
     * Sends 5 echo requests to the VM from the container with its MAC changed to one the port does not have, and
     * returns how many frames the switch sent to the VM's tap meanwhile (its tx counter); the real MAC is put back.
     */
    private static long spoofedPingsReaching(long pid, String realMac, LabHost vmHost, String vmTap) {
        LabGuests.inContainerNet(pid, CMD, "ip", "link", "set", "dev", "eth0", "address", "fa:16:3e:99:99:99")
                .orThrow();
        try {
            long before = txPackets(vmHost, vmTap);
            LabGuests.inContainerNet(pid, CMD, "ping", "-c", "5", "-i", "0.2", "-W", "1", VM_IP);
            return txPackets(vmHost, vmTap) - before;
        } finally {
            LabGuests.inContainerNet(pid, CMD, "ip", "link", "set", "dev", "eth0", "address", realMac).orThrow();
        }
    }

    private static String console(LabHost h, UUID vm) throws IOException, InterruptedException {
        return h.call("GET", "/v1/instances/" + vm + "/console?bytes=65536", null).body();
    }

    /** Fetches the VM's blob from the container's network namespace with curl; returns its SHA-256. */
    private static String fetchBlob(long pid) throws Exception {
        Path file = Files.createTempFile("berth-lab-blob", ".bin");
        try {
            Cmd.Result r = LabGuests.inContainerNet(pid, CMD, "curl", "-sS", "--fail", "--max-time", "30", "-o",
                    file.toString(), "http://" + VM_IP + ":" + HTTP_PORT + "/blob");
            assertTrue(r.ok(), "wget of the blob: " + r);
            byte[] bytes = Files.readAllBytes(file);
            assertEquals(4 << 20, bytes.length, "blob size");
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** The name of host {@code from}'s Geneve port towards {@code to} (OVN makes one per remote chassis). */
    private static String tunnelPortTo(LabHost from, LabHost to) {
        String names = from.vsctl("--bare", "--columns=name", "find", "Interface", "type=geneve").orThrow();
        for (String name : names.strip().split("\\s+")) {
            if (!name.isEmpty() && from.vsctl("get", "Interface", name, "options:remote_ip").orThrow().strip()
                    .replace("\"", "").equals(to.underlayIp())) {
                return name;
            }
        }
        return fail(from.name() + " has no Geneve port to " + to.underlayIp() + ": " + names);
    }

    private static final Pattern TX = Pattern.compile("tx pkts=(\\d+)");

    /** tx packets of an OVS port, live from the switch (ovs-ofctl dump-ports, not the 5 s statistics column). */
    private static long txPackets(LabHost h, String port) {
        String ofport = h.vsctl("get", "Interface", port, "ofport").orThrow().strip();
        String out = h.ofctl("dump-ports", "br-int", ofport).orThrow();
        Matcher m = TX.matcher(out);
        if (!m.find()) {
            return fail("no tx pkts in: " + out);
        }
        return Long.parseLong(m.group(1));
    }

    private static void step(String what, long t0) {
        System.out.printf("[%6.1f s] %s%n", (System.nanoTime() - t0) / 1e9, what);
    }
}
