package org.berth.driver.kvm;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;

/** What the kvm benchmarks share: one spawn-boot-destroy of the test guest, timed, and the median. */
final class BenchGuest {
    private BenchGuest() {
    }

    /** Spawn to RUNNING, then RUNNING to the guest's marker on its console. */
    record Run(long spawnMs, long bootMs) {
    }

    /** Spawns {@code spec}, waits (up to 60 s) for BERTH-GUEST-READY and destroys it, whatever happened. */
    static Run once(ComputeDriver driver, InstanceSpec spec) throws InterruptedException {
        try {
            long t0 = System.nanoTime();
            if (driver.spawn(spec).powerState() != PowerState.RUNNING) {
                throw new IllegalStateException("not running after spawn");
            }
            long t1 = System.nanoTime();
            long deadline = t1 + Duration.ofSeconds(60).toNanos();
            while (!new String(driver.consoleLog(spec.uuid(), 65536), StandardCharsets.UTF_8)
                    .contains("BERTH-GUEST-READY")) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("no marker within 60 s");
                }
                Thread.sleep(20);
            }
            return new Run((t1 - t0) / 1_000_000, (System.nanoTime() - t1) / 1_000_000);
        } finally {
            driver.destroy(spec.uuid());
        }
    }

    static long median(List<Long> values) {
        List<Long> sorted = values.stream().sorted().toList();
        return sorted.get(sorted.size() / 2);
    }
}
