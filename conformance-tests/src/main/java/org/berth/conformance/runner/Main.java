package org.berth.conformance.runner;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.berth.conformance.Harness;
import org.berth.conformance.VifBackends;
import org.berth.driver.api.DriverInfo;
import org.berth.driver.api.DriverRegistry;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifPluggerProvider;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.reporting.legacy.xml.LegacyXmlReportGeneratingListener;

/**
 * The standalone conformance runner, Berth's critest: runs {@code ComputeDriverConformance} through the JUnit
 * Platform Launcher against the drivers on its class path plus provider jars from {@code --driver-path}, prints a
 * line per test, and writes JUnit XML, a Markdown and an HTML report and the support matrix. See
 * {@link RunnerOptions#USAGE}.
 */
public final class Main {
    /** Exit status: every test passed (skips allowed). */
    public static final int OK = 0;
    /** Exit status: a test or a driver failed. */
    public static final int FAILED = 1;
    /** Exit status: the command line or the driver selection is wrong. */
    public static final int USAGE = 2;

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(List.of(args), System.out, System.err));
    }

    /** Runs the suite in this JVM and returns the exit status; never calls {@link System#exit}. */
    public static int run(List<String> args, PrintStream out, PrintStream err) {
        RunnerOptions options;
        try {
            options = RunnerOptions.parse(args);
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().isEmpty()) {
                err.println("berth-conformance: " + e.getMessage());
            }
            err.println(RunnerOptions.USAGE);
            return e.getMessage().isEmpty() ? OK : USAGE;
        }
        options.images().ifPresent(dir -> System.setProperty("berth.images.dir", dir.toAbsolutePath().toString()));
        ClassLoader loader;
        DriverRegistry registry;
        List<String> names;
        Optional<VifPluggerProvider> vifProvider;
        try {
            loader = driverLoader(options.driverPath());
            registry = DriverRegistry.load(loader);
            names = options.allDrivers() ? registry.names() : options.drivers();
            names.forEach(registry::get); // names the drivers found when one is missing
            if (names.isEmpty()) {
                throw new IllegalArgumentException("no compute driver provider on the class path or the driver path");
            }
            vifProvider = VifBackends.choose(registry, options.vif());
        } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException e) {
            err.println("berth-conformance: " + e.getMessage());
            return USAGE;
        }
        Optional<VifPlugger> vif = vifPlugger(vifProvider, options, registry, out, err);
        out.println("berth-conformance: drivers " + String.join(", ", names) + "; images "
                + System.getProperty("berth.images.dir", "/var/cache/berth/images"));
        return launch(options, loader, new DriverSuite.Selection(registry, names, vif), out, err);
    }

    /**
     * Opens the VIF plugger chosen by {@code --vif} for the drivers; one that cannot connect is reported and left
     * out, so only the VIF tests are skipped. (A named plugger that is not there is a usage error, found earlier.)
     */
    private static Optional<VifPlugger> vifPlugger(Optional<VifPluggerProvider> provider, RunnerOptions options,
                                                   DriverRegistry registry, PrintStream out, PrintStream err) {
        if (provider.isEmpty()) {
            out.println("berth-conformance: no VIF plugger (" + (registry.vifPluggerNames().isEmpty()
                    ? "none on the class path or the driver path" : "--vif " + options.vif()) + "); VIF tests are skipped");
            return Optional.empty();
        }
        try {
            VifPlugger plugger = VifBackends.open(provider.get());
            out.println("berth-conformance: VIF plugger " + provider.get().name() + " " + provider.get().version());
            return Optional.of(plugger);
        } catch (RuntimeException e) {
            err.println("berth-conformance: VIF plugger " + provider.get().name() + " is unavailable, VIF tests are "
                    + "skipped: " + e.getMessage());
            return Optional.empty();
        }
    }

    private static int launch(RunnerOptions options, ClassLoader loader, DriverSuite.Selection selection,
                              PrintStream out, PrintStream err) {
        var listener = new RunListener(out);
        Path report = options.report().toAbsolutePath();
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        long start = System.nanoTime();
        try {
            Files.createDirectories(report);
            var xml = new LegacyXmlReportGeneratingListener(report,
                    new PrintWriter(new java.io.OutputStreamWriter(err, StandardCharsets.UTF_8), true));
            DriverSuite.select(selection);
            thread.setContextClassLoader(loader);
            Launcher launcher = LauncherFactory.create();
            launcher.execute(request(options), listener, xml);
        } catch (IOException e) {
            err.println("berth-conformance: cannot write the report to " + report + ": " + e);
            return USAGE;
        } finally {
            thread.setContextClassLoader(previous);
            DriverSuite.select(null);
        }
        Duration wall = Duration.ofNanos(System.nanoTime() - start);
        var outcomes = listener.outcomes();
        var matrix = new SupportMatrix(declared(selection), outcomes);
        var human = new RunReport(outcomes, matrix, wall);
        try {
            Files.writeString(report.resolve("report.md"), human.markdown());
            Files.writeString(report.resolve("report.html"), human.html());
            Files.writeString(report.resolve("support-matrix.md"), matrix.markdown());
            if (options.matrix().isPresent()) {
                Path file = options.matrix().get().toAbsolutePath();
                Files.createDirectories(file.getParent());
                Files.writeString(file, matrix.markdown());
                out.println("berth-conformance: support matrix written to " + file);
            }
        } catch (IOException e) {
            err.println("berth-conformance: cannot write the report to " + report + ": " + e);
            return USAGE;
        }
        out.println("berth-conformance: " + human.summary() + "; report in " + report);
        boolean failed = outcomes.stream().anyMatch(o -> o.status() == Outcome.Status.FAILED);
        return failed || outcomes.isEmpty() ? FAILED : OK;
    }

    private static LauncherDiscoveryRequest request(RunnerOptions options) {
        Map<String, String> config = new LinkedHashMap<>();
        if (options.parallel() > 1) {
            config.put("junit.jupiter.execution.parallel.enabled", "true");
            config.put("junit.jupiter.execution.parallel.mode.default", "concurrent");
            config.put("junit.jupiter.execution.parallel.mode.classes.default", "concurrent");
            config.put("junit.jupiter.execution.parallel.config.strategy", "fixed");
            config.put("junit.jupiter.execution.parallel.config.fixed.parallelism", String.valueOf(options.parallel()));
            config.put("junit.jupiter.execution.parallel.config.fixed.max-pool-size", String.valueOf(options.parallel()));
        }
        return LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(DriverSuite.class))
                .filters(new FeatureFilter(new HashSet<>(options.include()), new HashSet<>(options.exclude())))
                .configurationParameters(config)
                .build();
    }

    /** The class path plus every jar of the driver path (a jar, or a directory's {@code *.jar} files). */
    static ClassLoader driverLoader(List<Path> driverPath) {
        var urls = new ArrayList<URL>();
        for (Path p : driverPath) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> jars = Files.list(p)) {
                    jars.filter(j -> j.getFileName().toString().endsWith(".jar")).sorted().forEach(j -> urls.add(url(j)));
                } catch (IOException e) {
                    throw new UncheckedIOException("--driver-path: cannot list " + p, e);
                }
            } else if (Files.isRegularFile(p)) {
                urls.add(url(p));
            } else {
                throw new IllegalArgumentException("--driver-path: " + p + " is neither a directory nor a jar");
            }
        }
        ClassLoader parent = Main.class.getClassLoader();
        return urls.isEmpty() ? parent : new URLClassLoader("berth-driver-path", urls.toArray(URL[]::new), parent);
    }

    private static URL url(Path jar) {
        try {
            return jar.toAbsolutePath().toUri().toURL();
        } catch (MalformedURLException e) {
            throw new IllegalArgumentException("--driver-path: " + jar + ": " + e.getMessage(), e);
        }
    }

    /** What each driver declares; empty for one that cannot be created (its tests have failed already). */
    private static TreeMap<String, Optional<DriverInfo>> declared(DriverSuite.Selection selection) {
        var declared = new TreeMap<String, Optional<DriverInfo>>();
        for (String name : selection.names()) {
            Optional<DriverInfo> info;
            try {
                info = Optional.of(Harness.of(selection.registry().get(name), selection.vif()).info());
            } catch (RuntimeException e) {
                info = Optional.empty();
            }
            declared.put(name, info);
        }
        return declared;
    }
}
