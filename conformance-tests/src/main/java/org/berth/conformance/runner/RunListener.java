package org.berth.conformance.runner;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.TestTag;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

/** Prints one line per finished test (and the rule and leaks of a failure) and collects the {@link Outcome}s. */
final class RunListener implements TestExecutionListener {
    private static final String DRIVER_PREFIX = "driver ";

    private final PrintStream out;
    private final List<Outcome> outcomes = new CopyOnWriteArrayList<>();
    private final Map<String, Long> started = new ConcurrentHashMap<>();
    private volatile TestPlan plan;

    RunListener(PrintStream out) {
        this.out = out;
    }

    List<Outcome> outcomes() {
        return List.copyOf(outcomes);
    }

    @Override
    public void testPlanExecutionStarted(TestPlan testPlan) {
        plan = testPlan;
    }

    @Override
    public void executionStarted(TestIdentifier id) {
        started.put(id.getUniqueId(), System.nanoTime());
        if (id.getDisplayName().startsWith(DRIVER_PREFIX) && id.isContainer()) {
            out.println("== " + id.getDisplayName());
        }
    }

    @Override
    public void executionSkipped(TestIdentifier id, String reason) {
        if (id.isTest()) {
            record(id, Outcome.Status.SKIPPED, Duration.ZERO, reason == null ? "" : reason);
        }
    }

    @Override
    public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        Long start = started.remove(id.getUniqueId());
        Duration took = start == null ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - start);
        String message = result.getThrowable().map(RunListener::describe).orElse("");
        switch (result.getStatus()) {
            case SUCCESSFUL -> {
                if (id.isTest()) {
                    record(id, Outcome.Status.PASSED, took, "");
                }
            }
            case ABORTED -> {
                if (id.isTest()) {
                    record(id, Outcome.Status.SKIPPED, took, message);
                }
            }
            // a failed container (driver cannot be created, unknown driver) is a failure of its own
            case FAILED -> record(id, Outcome.Status.FAILED, took, message);
        }
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        String text = m == null || m.isBlank() ? t.getClass().getName() : m;
        return t instanceof AssertionError ? text : t.getClass().getSimpleName() + ": " + text;
    }

    private void record(TestIdentifier id, Outcome.Status status, Duration took, String message) {
        String method = id.getSource().filter(MethodSource.class::isInstance).map(s -> ((MethodSource) s).getMethodName())
                .orElse("(" + id.getDisplayName() + ")");
        var tags = id.getTags().stream().map(TestTag::getName).collect(Collectors.toSet());
        Feature feature = id.isTest() ? Feature.of(method, tags) : Feature.OTHER;
        var o = new Outcome(driverOf(id).orElse("?"), method, id.getDisplayName(), feature, status, took, message);
        outcomes.add(o);
        print(o);
    }

    private Optional<String> driverOf(TestIdentifier id) {
        TestPlan p = plan;
        for (Optional<TestIdentifier> cur = Optional.of(id); cur.isPresent() && p != null; cur = p.getParent(cur.get())) {
            String name = cur.get().getDisplayName();
            if (name.startsWith(DRIVER_PREFIX)) {
                return Optional.of(name.substring(DRIVER_PREFIX.length()));
            }
        }
        return Optional.empty();
    }

    private synchronized void print(Outcome o) {
        String label = switch (o.status()) {
            case PASSED -> "PASS";
            case FAILED -> "FAIL";
            case SKIPPED -> "SKIP";
        };
        out.printf(Locale.ROOT, "  %s  [%s] %s (%.1f s)%n", label, o.driver(), o.title(), o.duration().toMillis() / 1000.0);
        if (o.status() == Outcome.Status.FAILED) {
            out.println("        rule:   " + o.rule().orElse("(none named) " + o.headline()));
            o.leaks().forEach(l -> out.println("        leaked: " + l));
        } else if (o.status() == Outcome.Status.SKIPPED && !o.message().isBlank()) {
            out.println("        " + o.headline());
        }
    }
}
