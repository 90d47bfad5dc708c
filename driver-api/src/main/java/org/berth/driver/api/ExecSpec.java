package org.berth.driver.api;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A command to run inside an instance ({@link ComputeDriver#exec}).
 *
 * @param argv       the program and its arguments: 1 to {@value #MAX_ARGS} entries, none containing NUL, at most
 *                   {@value #MAX_BYTES} bytes altogether (with {@code env})
 * @param env        extra environment variables: names of letters, digits and {@code _}, not starting with a digit
 * @param workingDir an absolute directory to run in, or empty for the instance's default
 * @param tty        a terminal for the command (stdout and stderr merged, resizable) rather than plain pipes
 * @param columns    the terminal's initial width when {@code tty} (1..1000)
 * @param rows       the terminal's initial height when {@code tty} (1..1000)
 */
public record ExecSpec(List<String> argv, Map<String, String> env, Optional<String> workingDir, boolean tty,
                       int columns, int rows) {
    public static final int MAX_ARGS = 256;
    public static final int MAX_BYTES = 65536;
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");

    public ExecSpec {
        argv = List.copyOf(Check.notNull(argv, "exec.command"));
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("exec.command: must name a program (at least 1 entry)");
        }
        if (argv.size() > MAX_ARGS) {
            throw new IllegalArgumentException("exec.command: " + argv.size() + " entries, at most " + MAX_ARGS);
        }
        if (argv.get(0).isEmpty()) {
            throw new IllegalArgumentException("exec.command[0]: the program must not be empty");
        }
        env = Map.copyOf(Check.notNull(env, "exec.env"));
        long bytes = 0;
        for (int i = 0; i < argv.size(); i++) {
            bytes += noNul(argv.get(i), "exec.command[" + i + "]").length() + 1;
        }
        for (var e : env.entrySet()) {
            if (!ENV_NAME.matcher(e.getKey()).matches()) {
                throw new IllegalArgumentException("exec.env: '" + Check.printable(e.getKey())
                        + "' must be 1-128 letters, digits or _ and not start with a digit");
            }
            bytes += e.getKey().length() + noNul(e.getValue(), "exec.env." + e.getKey()).length() + 2;
        }
        if (bytes > MAX_BYTES) {
            throw new IllegalArgumentException("exec.command: " + bytes + " bytes of arguments and environment, at most "
                    + MAX_BYTES);
        }
        workingDir = Check.notNull(workingDir, "exec.working_dir");
        workingDir.ifPresent(d -> {
            if (!d.startsWith("/") || d.length() > 4096 || d.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("exec.working_dir: '" + Check.printable(d)
                        + "' must be an absolute path of at most 4096 characters");
            }
        });
        if (tty) {
            Check.between(columns, 1, 1000, "exec.columns");
            Check.between(rows, 1, 1000, "exec.rows");
        }
    }

    /** {@code argv} with no extra environment, in the default directory, without a terminal. */
    public static ExecSpec of(String... argv) {
        return new ExecSpec(List.of(argv), Map.of(), Optional.empty(), false, 80, 24);
    }

    /** This command with a terminal of {@code columns} x {@code rows}. */
    public ExecSpec withTty(int columns, int rows) {
        return new ExecSpec(argv, env, workingDir, true, columns, rows);
    }

    private static String noNul(String s, String field) {
        Check.notNull(s, field);
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(field + ": must not contain a NUL byte");
        }
        return s;
    }
}
