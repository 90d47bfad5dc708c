package org.berth.agent.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The per-JVM Placement leaves nothing: a JVM that ends normally stops it and removes its directory (shutdown
 * hook); one killed with -9 leaves both, and the next JVM's {@link PlacementServer#shared()} removes them.
 */
class PlacementServerTest {
    @Test
    @Timeout(180)
    void aJvmThatEndsStopsItsPlacementAndRemovesItsDirectory() throws Exception {
        Process p = child("exit");
        String[] ready = ready(p);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM ends");
        Path dir = Path.of(ready[1]);
        assertFalse(Files.exists(dir), dir + " removed");
        assertFalse(serving(dir), "no Placement process for " + dir);
        assertEquals(404, status(URI.create(ready[2])), "nothing answers on its port");
    }

    @Test
    @Timeout(180)
    void whatAKilledJvmLeftIsRemovedByTheNextOne() throws Exception {
        Process p = child("wait");
        String[] ready = ready(p);
        Path dir = Path.of(ready[1]);
        p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        assertTrue(Files.exists(dir) && serving(dir), "kill -9: no hook ran, Placement still serves " + dir);
        PlacementServer.reapOrphans();
        assertFalse(Files.exists(dir), dir + " removed");
        assertFalse(serving(dir), "no Placement process for " + dir);
    }

    private static Process child(String mode) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                PlacementServerMain.class.getName(), mode).redirectErrorStream(true).start();
    }

    /** Waits for "READY DIR URL" (bounded by the test's timeout). */
    private static String[] ready(Process p) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder all = new StringBuilder();
        for (String line; (line = r.readLine()) != null; ) {
            all.append(line).append('\n');
            if (line.startsWith("READY ")) {
                Thread.ofVirtual().start(() -> r.lines().forEach(l -> { })); // keep the pipe drained
                return line.split(" ");
            }
        }
        throw new AssertionError("the child JVM did not start Placement:\n" + all);
    }

    /** Whether any process serves the Placement of {@code dir} (scripts/placement.sh's gunicorn). */
    private static boolean serving(Path dir) {
        return ProcessHandle.allProcesses().anyMatch(h -> h.info().arguments()
                .map(a -> String.join(" ", a).contains("--chdir " + dir + " ")).orElse(false));
    }

    private static int status(URI url) {
        try {
            return new PlacementApi(url).send("GET", "/", null).status();
        } catch (RuntimeException e) {
            return 404;
        }
    }
}
