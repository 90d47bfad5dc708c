package org.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteException;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.PumpStreamHandler;
import org.berth.conformance.host.HostCommand;
import org.junit.jupiter.api.Test;

/**
 * Issue #19's acceptance with the real agent, real libvirt/QEMU and real Docker, and clients no one here wrote:
 * Debian's python3-websockets logs in to the busybox VM's serial console and computes {@code $((6*7))}; the CLI does
 * the same in a tmux terminal and leaves with Ctrl-] (the terminal found sane again); {@code berth exec} returns the
 * command's status, carries 1 MiB intact through {@code cat}, and runs {@code sh} interactively with {@code -t};
 * 50 sessions dropped mid-stream by a killed client leave no session, thread, file descriptor or process behind.
 */
class InteractiveAccessTest {
    private static final Duration LIMIT = Duration.ofSeconds(120);
    private static final String PYTHON = "/usr/bin/python3"; // Debian's, with python3-websockets

    @Test
    void consoleAndExecAsAUserDoesIt() throws Exception {
        Guests guests = new Guests();
        // 50 sessions on one container at once: above the default of 8 per instance
        Guests.withAgent("InteractiveAccessTest", guests, "console: {max_sessions_per_instance: 64}\n",
                (agent, g, t0) -> {
            UUID vm = UUID.randomUUID();
            g.instances.add(vm);
            Guests.spawn(agent, """
                    {"driver": "kvm", "uuid": "%s", "name": "ia-vm", "image_id": "%s",
                     "flavor": {"name": "ia.vm", "vcpus": 1, "memory_mb": 256, "root_gb": 1},
                     "properties": {"os_command_line": "console=ttyS0"}}
                    """.formatted(vm, Guests.guestKernel()));
            UUID c = UUID.randomUUID();
            g.instances.add(c);
            Guests.spawn(agent, """
                    {"driver": "docker", "uuid": "%s", "name": "ia-c", "image_id": "%s",
                     "flavor": {"name": "ia.c", "vcpus": 1, "memory_mb": 128, "root_gb": 1}}
                    """.formatted(c, Guests.busybox()));
            agent.awaitRunning(vm, Guests.SPAWN_LIMIT);
            agent.awaitRunning(c, Guests.SPAWN_LIMIT);
            Guests.awaitConsole(agent, vm, "BERTH-GUEST-READY", LIMIT);
            Guests.step("VM and container running", t0);

            // each driver declares what it has: no exec in a VM (no guest agent), no console on a container
            var vmExec = agent.call("POST", "/v1/instances/" + vm + "/exec", "{\"exec\": {\"command\": [\"sh\"]}}");
            assertEquals(501, vmExec.status(), vmExec.body());
            assertTrue(vmExec.body().contains("capability_missing"), vmExec.body());
            assertEquals(501, agent.call("POST", "/v1/instances/" + c + "/console", null).status());

            Path dir = Files.createTempDirectory("berth-ia");
            try {
                Path berth = launcher(dir, agent);
                pythonConsole(agent, vm);
                Guests.step("python3-websockets: 6*7 = 42 on the VM's serial console", t0);
                cliConsoleInTmux(berth, vm);
                Guests.step("berth console in tmux: 42, Ctrl-] leaves, the terminal is sane", t0);
                cliExec(berth, dir, c);
                Guests.step("berth exec: exit 3, 1 MiB through cat intact, -t sh in tmux", t0);
                JsonNode events = agent.call("GET", "/v1/instances/" + c + "/events", null).json();
                assertTrue(events.toString().contains("exec.closed") && events.toString().contains("exit 3"),
                        "exec sessions are instance events: " + events);
                droppedSessions(agent, c);
                Guests.step("50 sessions dropped mid-stream: nothing left", t0);
            } finally {
                try (Stream<Path> s = Files.walk(dir)) {
                    s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        });
    }

    /** A {@code berth} for a user's terminal: this JVM's class path, the test agent's URL and state dir. */
    private static Path launcher(Path dir, AgentProcess agent) throws IOException {
        Path f = dir.resolve("berth");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Files.writeString(f, "#!/bin/sh\nexec '" + java + "' -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp '"
                + System.getProperty("java.class.path") + "' org.berth.agent.cli.BerthCli --url http://127.0.0.1:"
                + agent.port() + " --state-dir '" + agent.stateDir + "' \"$@\"\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwx------"));
        return f;
    }

    private static Path script() {
        Path p = Path.of("src/test/resources/interactive/ws_client.py").toAbsolutePath();
        assertTrue(Files.isRegularFile(p), p + " missing");
        return p;
    }

    private static void pythonConsole(AgentProcess agent, UUID vm) {
        HostCommand.Result r = HostCommand.run(LIMIT, PYTHON, script().toString(), "console",
                "http://127.0.0.1:" + agent.port(), agent.token(), vm.toString());
        assertEquals(0, r.exitCode(), "ws_client console: " + r.stderr() + r.stdout());
        assertEquals("ANSWER 42", r.stdout().strip(), r.stdout());
    }

    private static void cliConsoleInTmux(Path berth, UUID vm) throws Exception {
        try (Tmux t = new Tmux()) {
            t.line("stty -g > " + berth.getParent().resolve("stty.before"));
            // chained, so the local shell reports the CLI's status the moment it ends (a line typed while the CLI
            // still runs would go to the guest)
            t.line(berth + " console " + vm + "; echo LEFT-WITH-$?");
            t.await("the banner", LIMIT, s -> s.contains("escape character is ^]"));
            t.key("Enter"); // the guest's shell (busybox askfirst) prints a prompt
            Thread.sleep(1000);
            t.line("echo $((6*7))");
            t.await("42 on a line of its own", LIMIT, s -> s.lines().anyMatch(l -> l.strip().equals("42")));
            t.key("C-]");
            t.await("back in the local shell with status 0", LIMIT, s -> s.contains("LEFT-WITH-0"));
            // the marker as typed differs from the marker printed, so the echo of the line does not count
            t.line("stty -g > " + berth.getParent().resolve("stty.after") + "; echo STTY-$((1+1))-SAVED");
            t.await("stty written", LIMIT, s -> s.contains("STTY-2-SAVED"));
            assertEquals(Files.readString(berth.getParent().resolve("stty.before")).strip(),
                    Files.readString(berth.getParent().resolve("stty.after")).strip(),
                    "the terminal's settings are restored after Ctrl-]");
        }
    }

    private static void cliExec(Path berth, Path dir, UUID c) throws Exception {
        Run exit3 = run(List.of(berth.toString(), "exec", c.toString(), "--", "sh", "-c", "exit 3"), null);
        assertEquals(3, exit3.code, "berth exec exits with the command's status: " + exit3.err);

        byte[] blob = new byte[1 << 20];
        ThreadLocalRandom.current().nextBytes(blob);
        Path in = dir.resolve("blob");
        Files.write(in, blob);
        Run cat = run(List.of(berth.toString(), "exec", c.toString(), "--", "cat"), in);
        assertEquals(0, cat.code, cat.err);
        assertEquals(sha256(blob), sha256(cat.out), "1 MiB through exec ... cat: " + cat.out.length + " bytes back");
        assertArrayEquals(blob, cat.out);

        try (Tmux t = new Tmux()) {
            t.line(berth + " exec -t " + c + " -- sh; echo EXEC-ENDED-$?");
            // the container's root shell prompts "/ # " (the local sh only "# ")
            t.await("a shell prompt in the container", LIMIT, s -> s.lines().anyMatch(l -> l.strip().equals("/ #")));
            t.line("echo $((6*7)); stty size");
            t.await("42 and the terminal's size", LIMIT, s -> s.lines().anyMatch(l -> l.strip().equals("42"))
                    && s.lines().anyMatch(l -> l.strip().matches("\\d+ \\d+")));
            t.line("exit 7");
            t.await("the exec's status in the local shell", LIMIT, s -> s.contains("EXEC-ENDED-7"));
        }
    }

    private void droppedSessions(AgentProcess agent, UUID c) throws Exception {
        dropRound(agent, c); // warm-up: the JIT, the heap and the pools settle
        long[] before = usage(agent);
        dropRound(agent, c);
        // pooled resources (the engine client's idle connections and call threads, which retire after 30 s idle)
        // may lag behind the sessions' end: wait (bounded) for the counts to come back rather than sample once
        long[] after = usage(agent);
        long settle = System.nanoTime() + Duration.ofSeconds(45).toNanos();
        while ((after[0] > before[0] + 4 || after[1] > before[1] + 4) && System.nanoTime() < settle) {
            Thread.sleep(500);
            after = usage(agent);
        }
        System.out.printf("50 dropped sessions: threads %d -> %d, fds %d -> %d, RSS %d -> %d kB%n", before[0], after[0],
                before[1], after[1], before[2], after[2]);
        assertTrue(after[0] <= before[0] + 4, "threads: " + before[0] + " before, " + after[0] + " after");
        assertTrue(after[1] <= before[1] + 4, "file descriptors: " + before[1] + " before, " + after[1] + " after");
        assertTrue(after[2] <= before[2] * 1.10, "RSS: " + before[2] + " kB before, " + after[2] + " kB after");
        HostCommand.Result top = Host.run("docker", "top", Host.backendName(c), "-o", "pid,args");
        assertEquals(0, top.exitCode(), top.stderr());
        assertFalse(top.stdout().contains("cat") || top.stdout().contains("flood"),
                "no exec process left in the container:\n" + top.stdout());
    }

    private void dropRound(AgentProcess agent, UUID c) throws Exception {
        HostCommand.Result r = HostCommand.run(LIMIT, PYTHON, script().toString(), "drop",
                "http://127.0.0.1:" + agent.port(), agent.token(), c.toString(), "50");
        assertTrue(r.stdout().contains("OPENED 50"), "ws_client drop: " + r.stdout() + r.stderr());
        long end = System.nanoTime() + LIMIT.toNanos();
        String metric = "";
        while (System.nanoTime() < end) {
            metric = agent.call("GET", "/metrics", null).body().lines()
                    .filter(l -> l.startsWith("berth_console_sessions ")).findFirst().orElse("");
            if (metric.equals("berth_console_sessions 0")) {
                break;
            }
            Thread.sleep(200);
        }
        assertEquals("berth_console_sessions 0", metric, "every dropped session was noticed and closed");
        long procs = 0;
        while (System.nanoTime() < end) {
            HostCommand.Result top = Host.run("docker", "top", Host.backendName(c), "-o", "pid,args");
            procs = top.stdout().lines().filter(l -> l.contains("cat") || l.contains("flood")).count();
            if (procs == 0) {
                break;
            }
            Thread.sleep(200);
        }
        assertEquals(0, procs, "the dropped sessions' commands were killed");
    }

    /**
     * {threads, open file descriptors, RSS kB} of the agent's process. Threads exclude the carriers of virtual
     * threads ({@code ForkJoinPool-…}), which the JDK adds while virtual threads are pinned and retires only after
     * a keep-alive: their number says nothing about what a session left.
     */
    private static long[] usage(AgentProcess agent) throws IOException {
        Path proc = Path.of("/proc", Long.toString(agent.pid()));
        long threads;
        long fds;
        try (Stream<Path> t = Files.list(proc.resolve("task")); Stream<Path> f = Files.list(proc.resolve("fd"))) {
            threads = t.filter(task -> {
                try {
                    return !Files.readString(task.resolve("comm")).startsWith("ForkJoinPool");
                } catch (IOException gone) {
                    return false; // the thread ended while we looked
                }
            }).count();
            fds = f.count();
        }
        long rss = Files.readAllLines(proc.resolve("status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .map(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(0L);
        return new long[] {threads, fds, rss};
    }

    private record Run(int code, byte[] out, String err) {
    }

    /** A real CLI process: argv, stdin from {@code in} (or nothing), stdout as bytes; bounded. */
    private static Run run(List<String> argv, Path in) throws IOException {
        CommandLine cmd = new CommandLine(argv.getFirst());
        argv.subList(1, argv.size()).forEach(a -> cmd.addArgument(a, false));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        InputStream stdin = in == null ? InputStream.nullInputStream() : Files.newInputStream(in);
        DefaultExecutor ex = DefaultExecutor.builder().get();
        ex.setStreamHandler(new PumpStreamHandler(out, err, stdin));
        ex.setWatchdog(ExecuteWatchdog.builder().setTimeout(LIMIT).get());
        ex.setExitValues(null);
        int code;
        try {
            code = ex.execute(cmd);
        } catch (ExecuteException e) {
            code = e.getExitValue();
        } finally {
            stdin.close();
        }
        return new Run(code, out.toByteArray(), err.toString());
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }
}
