package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

/** Checks the acceptance tests share, whichever way (REST or CLI) they drive the agent. */
final class Checks {
    private Checks() {
    }

    /** A read of a console tail: its text, or null when it cannot be read (yet). */
    @FunctionalInterface
    interface ConsoleRead {
        String text() throws IOException, InterruptedException;
    }

    /**
     * Polls {@code read} every second until the text contains {@code marker} followed by a line end; fails after
     * {@code limit} with {@code what} and the last {@code tailChars} characters read.
     */
    static String awaitConsole(String what, ConsoleRead read, String marker, Duration limit, int tailChars)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        String text = "";
        while (System.nanoTime() < deadline) {
            String now = read.text();
            if (now != null) {
                text = now;
                int at = text.lastIndexOf(marker);
                if (at >= 0 && text.indexOf('\n', at) > 0) {
                    return text;
                }
            }
            Thread.sleep(1000);
        }
        return fail(what + " did not show '" + marker + "' within " + limit.toSeconds() + " s; tail:\n"
                + text.substring(Math.max(0, text.length() - tailChars)));
    }

    /** docker exec ping from the container, every second, until it is answered. */
    static void awaitPing(UUID container, String address, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            if (Host.containerPings(container, address)) {
                return;
            }
            Thread.sleep(1000);
        }
        fail("container " + container + " could not ping " + address + " within " + limit.toSeconds() + " s");
    }

    /** The claimed usage moved by exactly these amounts. */
    static void assertUsage(JsonNode before, JsonNode after, int vcpus, int memoryMb, int diskGb, String when) {
        assertEquals(before.get("vcpus").asInt() + vcpus, after.get("vcpus").asInt(), "claimed vcpus " + when);
        assertEquals(before.get("memory_mb").asInt() + memoryMb, after.get("memory_mb").asInt(),
                "claimed memory_mb " + when);
        assertEquals(before.get("disk_gb").asInt() + diskGb, after.get("disk_gb").asInt(), "claimed disk_gb " + when);
    }

    /**
     * The instance's first VIF is an active OVS interface on br-int named after its port, with the instance's
     * {@code vm-uuid} and MAC in its external_ids.
     */
    static void assertPlugged(JsonNode instance, String vmUuid) {
        String port = Guests.portsOf(instance).getFirst();
        Map<String, String> ids = Host.ovsInterface(port)
                .orElseThrow(() -> new AssertionError("no OVS interface with iface-id " + port));
        assertEquals(Host.tapOf(port), ids.get("name"));
        assertEquals(vmUuid, ids.get("vm-uuid"), ids.toString());
        assertEquals(instance.at("/spec/vifs/0/mac").asText(), ids.get("attached-mac"), ids.toString());
        assertEquals("active", ids.get("iface-status"), ids.toString());
        assertTrue(Host.brIntHasPort(Host.tapOf(port)), "br-int has " + Host.tapOf(port));
    }

    /** The last 2000 characters, for a failure message. */
    static String tail(String s) {
        return s.substring(Math.max(0, s.length() - 2000));
    }
}
