package org.berth.conformance.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.conformance.Harness;
import org.berth.conformance.HostOvs;
import org.berth.conformance.leak.LeakCheck;
import org.berth.driver.api.DriverRegistry;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.Image;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.IpAddress;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.berth.ovs.OvsVifPlugger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * End to end on the real host: a container (docker driver) and a VM (kvm driver, the test guest configured from
 * its kernel command line) are plugged by ovs-vif into br-int and ping each other on 198.18.0.0/15.
 * The guest pings the container ({@code berth.ping=}) and prints the result on its serial console.
 */
class ContainerVmPingTest {
    private static final DriverRegistry REGISTRY = DriverRegistry.load(ContainerVmPingTest.class.getClassLoader());
    private static final OvsVifPlugger ovs = HostOvs.plugger();

    private static VifSpec vif(String cidr) {
        String mac = String.format("fa:16:3e:%02x:%02x:%02x", 0x19, (int) (Math.random() * 256), (int) (Math.random() * 256));
        return new VifSpec(UUID.randomUUID().toString(), mac, "br-int", 1500, Optional.empty(),
                List.of(IpAddress.parseCidr(cidr, "ip")), Optional.empty());
    }

    @Test
    @Timeout(240)
    void containerAndVmPingEachOtherOnBrInt() throws InterruptedException {
        Harness docker = Harness.of(REGISTRY.get("docker"), Optional.of(ovs));
        Harness kvm = Harness.of(REGISTRY.get("kvm"), Optional.of(ovs));
        VifSpec containerVif = vif("198.18.9.2/24");
        VifSpec vmVif = vif("198.18.9.3/24");
        UUID containerId = UUID.randomUUID();
        UUID vmId = UUID.randomUUID();
        Image kernel = kvm.images().list().stream().filter(i -> i.name().equals("berth-guest-kernel")).findFirst()
                .orElseThrow(() -> new AssertionError("berth-guest-kernel missing: run images/build.sh"));
        var problems = new ArrayList<String>();
        try {
            var c = docker.driver().spawn(InstanceSpec.of(containerId, "ping-peer", Flavor.tiny(), docker.bootImage().id())
                    .withVifs(List.of(containerVif)));
            assertEquals(PowerState.RUNNING, c.powerState());
            var vm = kvm.driver().spawn(InstanceSpec.of(vmId, "ping-vm", Flavor.tiny(), kernel.id())
                    .withVifs(List.of(vmVif))
                    .withProperties(Map.of(Image.OS_COMMAND_LINE, "console=ttyS0 berth.ping=198.18.9.2")));
            assertEquals(PowerState.RUNNING, vm.powerState());
            String console = GuestConsole.await(kvm.driver(), vmId, "BERTH-PING 198.18.9.2", Duration.ofSeconds(150));
            assertTrue(console.contains("BERTH-NET") && console.contains("198.18.9.3/24"), console);
            assertTrue(console.contains("BERTH-PING 198.18.9.2 ok"), "the VM reached the container: " + console);
        } finally {
            problems.addAll(Teardown.destroyAll(List.of(Map.entry(docker.driver(), containerId),
                    Map.entry(kvm.driver(), vmId))));
        }
        problems.addAll(LeakCheck.leftovers(List.of(containerId, vmId),
                List.of(containerVif.portId(), vmVif.portId()), kvm.stateDir()));
        problems.addAll(LeakCheck.leftovers(List.of(containerId), List.of(), docker.stateDir()));
        assertTrue(problems.isEmpty(), () -> "left behind: " + problems);
    }
}
