package org.berth.conformance.runner;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The runner's command line.
 *
 * @param drivers    {@code all} or driver names
 * @param driverPath directories and jars whose provider jars join the class path
 * @param include    tags (or features) to run; empty runs all
 * @param exclude    tags (or features) to leave out
 * @param report     where JUnit XML, report.md, report.html and support-matrix.md go
 * @param matrix     an extra copy of the support matrix, e.g. {@code docs/support-matrix.md}
 * @param images     the built test images directory
 * @param parallel   tests run concurrently (1 = one at a time)
 * @param vif        the VIF plugger: {@code auto} (ovs if found, else the only one), {@code none} or a name
 */
record RunnerOptions(List<String> drivers, List<Path> driverPath, List<String> include, List<String> exclude,
                     Path report, Optional<Path> matrix, Optional<Path> images, int parallel, String vif) {
    static final String USAGE = """
            usage: java -jar berth-conformance.jar --driver docker|kvm|all|NAME[,NAME]
                     [--driver-path DIR|JAR]... [--include-tag T]... [--exclude-tag T]...
                     [--report DIR] [--matrix FILE] [--images DIR] [--parallel N] [--vif auto|none|NAME]
              --driver       drivers to test: all (every provider found) or names, comma-separated
              --driver-path  extra provider jars (a directory's *.jar or a jar), found with ServiceLoader
              --include-tag  run only tests with this tag or feature (e.g. pause, spawn, hard-reboot)
              --exclude-tag  leave out tests with this tag or feature
              --report       report directory (default: berth-conformance-report)
              --matrix       also write the support matrix (Markdown) to this file
              --images       built test images (default: -Dberth.images.dir or /var/cache/berth/images)
              --parallel     run up to N tests at once (default 1)
              --vif          VIF plugger for the drivers, found like them (default auto: ovs if found; none skips
                             the VIF tests); its options: -Dberth.vif.<name>.<key>=value
            driver options: -Dberth.driver.<name>.<key>=value; exit status 0 = all passed, 1 = a test failed, 2 = usage""";

    /** Parses {@code args}; throws {@link IllegalArgumentException} with a message fit for the user. */
    static RunnerOptions parse(List<String> args) {
        List<String> drivers = List.of();
        var path = new ArrayList<Path>();
        var include = new ArrayList<String>();
        var exclude = new ArrayList<String>();
        Path report = Path.of("berth-conformance-report");
        Optional<Path> matrix = Optional.empty();
        Optional<Path> images = Optional.empty();
        int parallel = 1;
        String vif = System.getProperty("berth.vif", "auto");
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (arg.equals("-h") || arg.equals("--help")) {
                throw new IllegalArgumentException("");
            }
            String value = i + 1 < args.size() ? args.get(++i) : null;
            if (value == null) {
                throw new IllegalArgumentException(arg + " needs a value");
            }
            switch (arg) {
                case "--driver" -> drivers = List.of(value.split("\\s*,\\s*"));
                case "--driver-path" -> path.add(Path.of(value));
                case "--include-tag" -> include.add(value);
                case "--exclude-tag" -> exclude.add(value);
                case "--report" -> report = Path.of(value);
                case "--matrix" -> matrix = Optional.of(Path.of(value));
                case "--images" -> images = Optional.of(Path.of(value));
                case "--vif" -> vif = value;
                case "--parallel" -> {
                    try {
                        parallel = Integer.parseInt(value);
                    } catch (NumberFormatException e) {
                        parallel = 0;
                    }
                    if (parallel < 1 || parallel > 64) {
                        throw new IllegalArgumentException("--parallel: '" + value + "' is not a number from 1 to 64");
                    }
                }
                default -> throw new IllegalArgumentException("unknown option '" + arg + "'");
            }
        }
        if (drivers.isEmpty() || drivers.stream().anyMatch(String::isBlank)) {
            throw new IllegalArgumentException("--driver is required (all, or driver names)");
        }
        return new RunnerOptions(drivers, path, include, exclude, report, matrix, images, parallel, vif);
    }

    boolean allDrivers() {
        return drivers.equals(List.of("all"));
    }
}
