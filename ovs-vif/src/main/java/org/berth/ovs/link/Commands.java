package org.berth.ovs.link;

import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteException;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.PumpStreamHandler;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/** Runs a program from an argument array (never through a shell) with a timeout, capturing its output. */
public final class Commands {
    private final Duration timeout;

    public Commands(Duration timeout) {
        this.timeout = timeout;
    }

    /** What a finished command printed. */
    public record Result(int exitCode, String stdout, String stderr) {
    }

    /** Runs {@code argv}; returns stdout, or throws {@link CommandFailed} on a non-zero exit or timeout. */
    public String run(List<String> argv) {
        return run(argv, null).stdout();
    }

    /** Runs {@code argv} with {@code stdin} (may be null); throws {@link CommandFailed} on a non-zero exit. */
    public Result run(List<String> argv, String stdin) {
        Result r = tryRun(argv, stdin);
        if (r.exitCode() != 0) {
            throw new CommandFailed(argv, "failed (exit " + r.exitCode() + "): " + r.stderr().strip()
                    + (stdin == null ? "" : " [input: " + stdin.strip().replace("\n", "; ") + "]"), false, null);
        }
        return r;
    }

    /** Runs {@code argv}; a non-zero exit is returned, not thrown. Timeouts and start failures still throw. */
    public Result tryRun(List<String> argv, String stdin) {
        CommandLine line = new CommandLine(argv.getFirst());
        argv.subList(1, argv.size()).forEach(arg -> line.addArgument(arg, false));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ExecuteWatchdog watchdog = ExecuteWatchdog.builder().setTimeout(timeout).get();
        DefaultExecutor executor = DefaultExecutor.builder().get();
        executor.setStreamHandler(new PumpStreamHandler(out, err,
                stdin == null ? null : new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8))));
        executor.setWatchdog(watchdog);
        executor.setExitValues(null);
        int exit;
        try {
            exit = executor.execute(line);
        } catch (ExecuteException e) {
            exit = e.getExitValue();
        } catch (IOException e) {
            throw new CommandFailed(argv, "could not run: " + e.getMessage(), false, e);
        }
        if (watchdog.killedProcess()) {
            throw new CommandFailed(argv, "did not finish within " + timeout.toMillis() + " ms and was killed", true, null);
        }
        return new Result(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
