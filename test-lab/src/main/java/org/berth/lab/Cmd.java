package org.berth.lab;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteException;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.PumpStreamHandler;

/** A program run from an argument array (never a shell), bounded by a timeout, its output captured. */
public final class Cmd {
    private Cmd() {
    }

    /** What a finished program said. */
    public record Result(List<String> argv, int exit, String stdout, String stderr) {
        public boolean ok() {
            return exit == 0;
        }

        /** stdout, or an IllegalStateException naming the command, its exit and stderr. */
        public String orThrow() {
            if (!ok()) {
                throw new IllegalStateException(String.join(" ", argv) + " exited " + exit + ": " + stderr.strip()
                        + (stdout.isBlank() ? "" : " (stdout: " + stdout.strip() + ")"));
            }
            return stdout;
        }
    }

    public static Result run(Duration timeout, List<String> argv) {
        return run(timeout, argv, Map.of());
    }

    /** Runs {@code argv} with extra environment variables; a timeout kills it and throws. */
    public static Result run(Duration timeout, List<String> argv, Map<String, String> env) {
        CommandLine line = new CommandLine(argv.getFirst());
        argv.subList(1, argv.size()).forEach(a -> line.addArgument(a, false));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ExecuteWatchdog watchdog = ExecuteWatchdog.builder().setTimeout(timeout).get();
        DefaultExecutor executor = DefaultExecutor.builder().get();
        executor.setStreamHandler(new PumpStreamHandler(out, err));
        executor.setWatchdog(watchdog);
        executor.setExitValues(null);
        Map<String, String> environment = new java.util.HashMap<>(System.getenv());
        environment.putAll(env);
        int exit;
        try {
            exit = executor.execute(line, environment);
        } catch (ExecuteException e) {
            exit = e.getExitValue();
        } catch (IOException e) {
            throw new IllegalStateException("could not run " + argv + ": " + e.getMessage(), e);
        }
        if (watchdog.killedProcess()) {
            throw new IllegalStateException(String.join(" ", argv) + " did not finish within " + timeout
                    + " and was killed; stderr: " + err.toString(StandardCharsets.UTF_8).strip());
        }
        return new Result(List.copyOf(argv), exit, out.toString(StandardCharsets.UTF_8),
                err.toString(StandardCharsets.UTF_8));
    }
}
