package org.berth.conformance.host;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteException;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.PumpStreamHandler;

/** Runs a host command with an argument array and a timeout (Commons Exec; never a shell string). */
public final class HostCommand {
    /** What a command printed and how it ended. */
    public record Result(int exitCode, String stdout, String stderr) {
        public boolean ok() {
            return exitCode == 0;
        }
    }

    private HostCommand() {
    }

    public static Result run(Duration timeout, String program, String... args) {
        return run(timeout, Map.of(), program, args);
    }

    /** As {@link #run(Duration, String, String...)}, with {@code env} added to this process's environment. */
    public static Result run(Duration timeout, Map<String, String> env, String program, String... args) {
        CommandLine cmd = new CommandLine(program);
        for (String a : args) {
            cmd.addArgument(a, false);
        }
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        DefaultExecutor executor = DefaultExecutor.builder().get();
        executor.setStreamHandler(new PumpStreamHandler(out, err));
        executor.setWatchdog(ExecuteWatchdog.builder().setTimeout(timeout).get());
        executor.setExitValues(null);
        int code;
        try {
            if (env.isEmpty()) {
                code = executor.execute(cmd);
            } else {
                Map<String, String> all = new HashMap<>(System.getenv());
                all.putAll(env);
                code = executor.execute(cmd, all);
            }
        } catch (ExecuteException e) {
            code = e.getExitValue();
        } catch (IOException e) {
            return new Result(127, "", program + ": " + e.getMessage());
        }
        if (executor.getWatchdog().killedProcess()) {
            return new Result(124, out.toString(StandardCharsets.UTF_8),
                    program + " " + String.join(" ", List.of(args)) + ": killed after " + timeout.toMillis() + " ms");
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** The program's path on PATH (or in /usr/sbin, /sbin), if installed. */
    public static Optional<Path> find(String program) {
        String path = System.getenv().getOrDefault("PATH", "") + File.pathSeparator + "/usr/sbin:/sbin:/usr/bin";
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path p = Path.of(dir, program);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
