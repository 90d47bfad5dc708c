package org.berth.conformance.e2e;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import org.berth.driver.api.ComputeDriver;

/** Reads a test guest's serial console through the driver until a marker line is complete. */
public final class GuestConsole {
    private GuestConsole() {
    }

    /**
     * Polls the console log every second until it holds a whole line starting at {@code marker}, at most
     * {@code limit}; returns the last log read either way, so the caller's assertion can show it.
     */
    public static String await(ComputeDriver driver, UUID uuid, String marker, Duration limit)
            throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        String console = "";
        while (System.nanoTime() < deadline) {
            console = new String(driver.consoleLog(uuid, 65536), StandardCharsets.ISO_8859_1);
            int at = console.indexOf(marker);
            // the result follows the marker prefix on the same line: wait until that line is complete
            if (at >= 0 && console.indexOf('\n', at) > 0) {
                return console;
            }
            Thread.sleep(1000);
        }
        return console;
    }
}
