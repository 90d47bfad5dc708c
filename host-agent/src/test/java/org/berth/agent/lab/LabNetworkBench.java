package org.berth.agent.lab;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.lab.Lab;
import org.berth.lab.Lab.LabHost;
import org.berth.ovs.ovsdb.OvsdbClient;
import org.berth.ovs.ovsdb.OvsdbEndpoint;
import org.berth.ovs.ovsdb.VswitchDb;

/**
 * Issue 15's benchmarks on the 3-host lab ({@code make bench}): a VM on host 1 and two containers, one on host 1
 * (same host: br-int only) and one on host 2 (across hosts: Geneve over the underlay), measured side by side in one
 * run: ping RTT and a 4 MiB HTTP transfer from each container to the VM; then plug-to-bound latency of 50 ports
 * on host 2: the OVS attach (ofport, what plain OVS needs) and OVN's binding ({@code ovn-installed}).
 * Prints medians, p95 and the ratios. Leaves nothing (the lab stays up only if it was up before).
 */
public final class LabNetworkBench {
    private static final String NET = "198.18.220";
    private static final String VM_IP = NET + ".11";
    private static final int MTU = 1442;
    private static final Duration CMD = Duration.ofSeconds(120);
    private static final Pattern RTT = Pattern.compile("= ([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) ms");

    private LabNetworkBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int ports = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        Lab lab = Lab.shared(3, Duration.ofSeconds(300));
        LabHost a = lab.host(0);
        LabHost b = lab.host(1);
        String sw = "berth-bench-" + UUID.randomUUID().toString().substring(0, 8);
        LabGuests guests = new LabGuests();
        List<String> dhcp = new ArrayList<>();
        try {
            lab.nbctl("ls-add", sw).orThrow();
            String d = lab.nbctl("create", "DHCP_Options", "cidr=" + NET + ".0/24", "options=\"server_id\"=\"" + NET
                    + ".1\" \"server_mac\"=\"fa:16:3e:00:00:01\" \"lease_time\"=\"3600\" \"mtu\"=\"" + MTU + "\"")
                    .orThrow().strip();
            dhcp.add(d);
            String vmPort = port(lab, sw, NET + ".11", a, d);
            String samePort = port(lab, sw, NET + ".12", a, d);
            String crossPort = port(lab, sw, NET + ".13", b, d);
            String vmMac = mac(lab, vmPort);
            UUID vm = guests.vm(a, vmPort, LabGuests.vif(vmPort, vmMac, MTU, null),
                    "console=ttyS0 berth.ip=dhcp berth.mac=" + vmMac + " berth.serve=5001");
            UUID same = guests.container(a, samePort, LabGuests.vif(samePort, mac(lab, samePort), MTU, NET + ".12/24"));
            UUID cross = guests.container(b, crossPort, LabGuests.vif(crossPort, mac(lab, crossPort), MTU,
                    NET + ".13/24"));
            LabGuests.awaitActive(a, vm);
            LabGuests.awaitActive(a, same);
            LabGuests.awaitActive(b, cross);
            LabGuests.awaitConsole(a, vm, "BERTH-SERVE", Duration.ofSeconds(240));
            long pSame = LabGuests.pidOf(a, same);
            long pCross = LabGuests.pidOf(b, cross);
            // warm: ARP, the tunnel's neighbour cache, conntrack
            LabGuests.inContainerNet(pSame, CMD, "ping", "-c", "3", "-W", "2", VM_IP);
            LabGuests.inContainerNet(pCross, CMD, "ping", "-c", "3", "-W", "2", VM_IP);

            List<Double> rttSame = new ArrayList<>();
            List<Double> rttCross = new ArrayList<>();
            List<Double> tcpSame = new ArrayList<>();
            List<Double> tcpCross = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                rttSame.add(rtt(pSame));
                rttCross.add(rtt(pCross));
                tcpSame.add(fetch(pSame));
                tcpCross.add(fetch(pCross));
            }
            System.out.printf("ping RTT (avg of 50 echoes, median of %d rounds): same host %.3f ms, across hosts "
                    + "%.3f ms, ratio across/same %.2f%n", rounds, median(rttSame), median(rttCross),
                    median(rttCross) / median(rttSame));
            System.out.printf("4 MiB HTTP from the VM (median of %d): same host %.3f s (%.1f MB/s), across hosts "
                    + "%.3f s (%.1f MB/s), ratio across/same %.2f%n", rounds, median(tcpSame), 4.194304 / median(tcpSame),
                    median(tcpCross), 4.194304 / median(tcpCross), median(tcpCross) / median(tcpSame));
            plugToBound(lab, b, sw, ports);
        } finally {
            List<String> problems = guests.destroyAndCheck();
            lab.nbctl("--if-exists", "ls-del", sw);
            dhcp.forEach(x -> lab.nbctl("dhcp-options-del", x));
            if (!problems.isEmpty()) {
                throw new IllegalStateException("cleanup: " + problems);
            }
        }
    }

    /** A logical port with a fixed IP, pinned to {@code host}, with DHCP; returns its name (a port id). */
    private static String port(Lab lab, String sw, String ip, LabHost host, String dhcp) {
        String p = UUID.randomUUID().toString();
        String mac = LabGuests.mac();
        lab.nbctl("lsp-add", sw, p, "--", "lsp-set-addresses", p, mac + " " + ip, "--", "lsp-set-dhcpv4-options", p,
                dhcp, "--", "lsp-set-options", p, "requested-chassis=" + host.name()).orThrow();
        return p;
    }

    private static String mac(Lab lab, String port) {
        return lab.nbctl("lsp-get-addresses", port).orThrow().strip().split(" ")[0];
    }

    /** Average RTT of 50 echoes 20 ms apart. */
    private static double rtt(long pid) {
        String out = LabGuests.inContainerNet(pid, CMD, "ping", "-q", "-c", "50", "-i", "0.02", "-W", "2", VM_IP)
                .orThrow();
        Matcher m = RTT.matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("no rtt in " + out);
        }
        return Double.parseDouble(m.group(2));
    }

    /** Seconds curl took for the VM's 4 MiB blob (to /dev/null). */
    private static double fetch(long pid) {
        String out = LabGuests.inContainerNet(pid, CMD, "curl", "-sS", "--fail", "--max-time", "60", "-o", "/dev/null",
                "-w", "%{time_total} %{size_download}", "http://" + VM_IP + ":5001/blob").orThrow().strip();
        String[] f = out.split(" ");
        if (!"4194304".equals(f[1])) {
            throw new IllegalStateException("short transfer: " + out);
        }
        return Double.parseDouble(f[0]);
    }

    /**
     * For {@code n} taps made in host {@code h}'s namespace and logical ports made beforehand: the time from the OVS
     * port's commit to vswitchd's attach (ofport) and to ovn-controller's {@code ovn-installed}.
     */
    private static void plugToBound(Lab lab, LabHost h, String sw, int n) {
        List<String> lps = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String p = UUID.randomUUID().toString();
            lps.add(p);
            lab.nbctl("lsp-add", sw, p, "--", "lsp-set-addresses", p, LabGuests.mac(), "--", "lsp-set-options", p,
                    "requested-chassis=" + h.name()).orThrow();
        }
        lab.nbctl("--wait=hv", "sync").orThrow();
        List<Double> attach = new ArrayList<>();
        List<Double> bound = new ArrayList<>();
        try (OvsdbClient client = OvsdbClient.connect(OvsdbEndpoint.parse(h.ovsdb()),
                OvsdbClient.Options.defaults().withCallTimeout(Duration.ofSeconds(30)))) {
            VswitchDb db = new VswitchDb(client);
            for (String p : lps) {
                String dev = "tap" + p.substring(0, 11);
                h.inNetns(CMD, "ip", "tuntap", "add", "dev", dev, "mode", "tap").orThrow();
                h.inNetns(CMD, "ip", "link", "set", "dev", dev, "up").orThrow();
                long t0 = System.nanoTime();
                db.addPort(new VswitchDb.PortSpec("br-int", dev, Map.of("iface-id", p, "iface-status", "active"),
                        Optional.empty(), OptionalInt.empty()));
                db.waitForOfport(dev, Duration.ofSeconds(30));
                long t1 = System.nanoTime();
                db.waitForExternalId(dev, "ovn-installed", "true", Duration.ofSeconds(60));
                long t2 = System.nanoTime();
                attach.add((t1 - t0) / 1e6);
                bound.add((t2 - t0) / 1e6);
            }
        } finally {
            for (String p : lps) {
                String dev = "tap" + p.substring(0, 11);
                h.vsctl("--if-exists", "del-port", "br-int", dev);
                h.inNetns(CMD, "ip", "link", "del", "dev", dev);
                lab.nbctl("--if-exists", "lsp-del", p);
            }
        }
        System.out.printf("plug on %s, %d ports: OVS attach (ofport) median %.1f ms p95 %.1f ms; OVN bound "
                        + "(ovn-installed) median %.1f ms p95 %.1f ms; ratio bound/attach %.2f%n", h.name(), n,
                median(attach), p95(attach), median(bound), p95(bound), median(bound) / median(attach));
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }

    private static double p95(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        return s.get(Math.min(s.size() - 1, (int) Math.ceil(s.size() * 0.95) - 1));
    }

}
