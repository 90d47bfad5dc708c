package org.berth.ovs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway network namespace {@code berth-test-<random>} with a {@code sleep} process in it, standing in for a
 * container: its pid is what a container runtime would hand to {@code plugNamespace}. Closing kills the process
 * and deletes the namespace.
 */
final class TestNamespace implements AutoCloseable {
    final String name = "berth-test-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
    private final Process sleeper;

    TestNamespace() throws IOException, InterruptedException {
        sh("ip", "netns", "add", name);
        sleeper = new ProcessBuilder("ip", "netns", "exec", name, "sleep", "120").redirectErrorStream(true).start();
        // `ip netns exec` execs sleep in the same process once it has entered the namespace: wait for that.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!ProcessHandle.of(sleeper.pid()).flatMap(h -> h.info().command()).orElse("").endsWith("sleep")) {
            if (System.nanoTime() > deadline) {
                close();
                throw new IllegalStateException("sleep did not start in namespace " + name);
            }
            Thread.sleep(5);
        }
    }

    long pid() {
        return sleeper.pid();
    }

    /** {@code ip netns exec NAME argv...}; returns the exit code and output. */
    Run exec(String... argv) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name));
        cmd.addAll(List.of(argv));
        return run(cmd);
    }

    record Run(int exit, String output) {
    }

    static Run run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", cmd) + " did not finish within 20 s");
        }
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    static String sh(String... cmd) throws IOException, InterruptedException {
        Run r = run(List.of(cmd));
        if (r.exit() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed: " + r.output());
        }
        return r.output();
    }

    @Override
    public void close() throws IOException {
        try {
            sleeper.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            run(List.of("ip", "netns", "del", name));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted deleting namespace " + name, e);
        }
    }
}
