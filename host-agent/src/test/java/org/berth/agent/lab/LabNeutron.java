package org.berth.agent.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.UUID;
import org.berth.lab.Cmd;
import org.berth.lab.Lab;

/**
 * What a lab test does as Neutron, through ovn-nbctl: one logical switch with OVN native DHCP (the guests' MTU in its
 * options) and its ports (addresses, port security, DHCP, optionally pinned to a chassis), and their removal.
 */
final class LabNeutron {
    private final Lab lab;
    private final String name;
    private String dhcp;

    /** A network named {@code prefix} plus a random suffix (not made yet: {@link #create}). */
    LabNeutron(Lab lab, String prefix) {
        this.lab = lab;
        this.name = prefix + UUID.randomUUID().toString().substring(0, 8);
    }

    String name() {
        return name;
    }

    /** The switch and its DHCP options for {@code net}.0/24 (server {@code net}.1). */
    void create(String net, int mtu) {
        lab.nbctl("ls-add", name).orThrow();
        dhcp = lab.nbctl("create", "DHCP_Options", "cidr=" + net + ".0/24",
                "options=\"server_id\"=\"" + net + ".1\" \"server_mac\"=\"fa:16:3e:00:00:01\" "
                        + "\"lease_time\"=\"3600\" \"mtu\"=\"" + mtu + "\"").orThrow().strip();
    }

    /** A port with this MAC and IP, port security and DHCP; {@code chassis} null: bound wherever it is plugged. */
    void port(String port, String mac, String ip, String chassis) {
        lab.nbctl("lsp-add", name, port).orThrow();
        lab.nbctl("lsp-set-addresses", port, mac + " " + ip).orThrow();
        lab.nbctl("lsp-set-port-security", port, mac + " " + ip).orThrow();
        lab.nbctl("lsp-set-dhcpv4-options", port, dhcp).orThrow();
        if (chassis != null) {
            lab.nbctl("lsp-set-options", port, "requested-chassis=" + chassis).orThrow();
        }
    }

    /** Deletes the switch (its ports with it) and the DHCP options, and checks the switch is gone. */
    void delete() {
        lab.nbctl("--if-exists", "ls-del", name);
        if (dhcp != null) {
            lab.nbctl("dhcp-options-del", dhcp);
        }
        assertEquals("", lab.nbctl("--bare", "--columns=name", "find", "Logical_Switch", "name=" + name)
                .orThrow().strip(), "the test's logical switch is gone");
    }

    /** Pings {@code address} from a container's network namespace until 3 of 3 answer, at most {@code limit}. */
    static void awaitPing(long pid, String address, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        Cmd.Result last = null;
        while (System.nanoTime() < deadline) {
            last = LabGuests.inContainerNet(pid, Duration.ofSeconds(60), "ping", "-c", "3", "-W", "1", address);
            if (last.ok()) {
                return;
            }
            Thread.sleep(500);
        }
        fail("no ping from the container to " + address + " within " + limit.toSeconds() + " s: " + last);
    }
}
