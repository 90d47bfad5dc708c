package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;

/** Test peer: plain tap devices (no OVS), made with iproute2 argument arrays. */
final class TapPlugger implements VifPlugger {
    final Set<String> plugged = ConcurrentHashMap.newKeySet();

    static boolean exists(String dev) {
        return Files.exists(Path.of("/sys/class/net", dev));
    }

    /** A test's cleanup check: none of {@code vifs}' taps exists, and none this plugger made is left. */
    void assertNoneLeft(Collection<VifSpec> vifs) {
        for (VifSpec vif : vifs) {
            assertFalse(exists(vif.devName()), "tap left: " + vif.devName());
        }
        assertTrue(plugged.isEmpty(), "taps left: " + plugged);
    }

    @Override
    public String plugTap(UUID instance, VifSpec vif) {
        String dev = vif.devName();
        if (!exists(dev)) {
            ip(vif.portId(), "tuntap", "add", "dev", dev, "mode", "tap");
        }
        ip(vif.portId(), "link", "set", "dev", dev, "mtu", Integer.toString(vif.mtu()), "up");
        plugged.add(dev);
        return dev;
    }

    @Override
    public void plugNamespace(UUID instance, VifSpec vif, long pid, String ifName) {
        throw new UnsupportedOperationException();
    }

    /** A plain tap is attached once it exists and is up: nothing to wait for, but it must be there. */
    @Override
    public void awaitAttached(UUID instance, VifSpec vif) {
        if (!plugged.contains(vif.devName()) || !exists(vif.devName())) {
            throw new DriverException.VifFailure(vif.portId(), vif.devName() + " is not plugged", null);
        }
    }

    @Override
    public void unplug(UUID instance, VifSpec vif) {
        if (exists(vif.devName())) {
            ip(vif.portId(), "link", "del", "dev", vif.devName());
        }
        plugged.remove(vif.devName());
    }

    private static void ip(String port, String... args) {
        try {
            var cmd = new java.util.ArrayList<>(List.of("ip"));
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new DriverException.VifFailure(port, String.join(" ", cmd) + ": "
                        + new String(p.getInputStream().readAllBytes()), null);
            }
        } catch (IOException e) {
            throw new DriverException.VifFailure(port, e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException.VifFailure(port, "interrupted", e);
        }
    }
}
