package org.berth.driver.kvm;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.commons.exec.CommandLine;
import org.apache.commons.exec.DefaultExecutor;
import org.apache.commons.exec.ExecuteException;
import org.apache.commons.exec.ExecuteWatchdog;
import org.apache.commons.exec.PumpStreamHandler;
import org.berth.driver.api.DriverException;

/**
 * One host tool (qemu-img, xorriso) run through Commons Exec: an argument array (never a shell), stdout and stderr
 * captured, a watchdog that kills it after {@code timeout}. Errors name the tool and the operation.
 */
final class HostCommand {
    private static final int MAX_DETAIL = 500;

    private HostCommand() {
    }

    /** Runs {@code executable args...}; returns stdout. {@code backend} names the tool in errors. */
    static String run(String backend, String executable, Duration timeout, String operation, String... args) {
        CommandLine cmd = new CommandLine(executable);
        for (String a : args) {
            cmd.addArgument(a, false);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ExecuteWatchdog watchdog = ExecuteWatchdog.builder().setTimeout(timeout).get();
        DefaultExecutor executor = DefaultExecutor.builder().get();
        executor.setStreamHandler(new PumpStreamHandler(out, err));
        executor.setWatchdog(watchdog);
        try {
            executor.execute(cmd);
            return out.toString(StandardCharsets.UTF_8);
        } catch (ExecuteException e) {
            if (watchdog.killedProcess()) {
                throw new DriverException.OperationTimedOut(backend + " " + operation, timeout, "");
            }
            String detail = err.toString(StandardCharsets.UTF_8).strip();
            throw new DriverException.BackendFailure(backend, operation,
                    detail.length() > MAX_DETAIL ? detail.substring(0, MAX_DETAIL) : detail, e);
        } catch (IOException e) {
            throw new DriverException.BackendFailure(backend, operation, e.getMessage(), e);
        }
    }
}
