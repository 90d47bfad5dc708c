package org.berth.conformance.runner;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.berth.driver.api.Capability;

/**
 * The rows of the support matrix: the mandatory operations and the optional {@link Capability capabilities},
 * each with the kit's tests that give evidence for it (by method name, or by a name prefix written {@code exec*}:
 * an exact name of any feature wins over a prefix, so {@code consoleLogBounded} stays console log's). A test mapped
 * to no feature counts for {@link #OTHER}. Each feature is also a tag for {@code --include-tag}/{@code --exclude-tag}, e.g. {@code pause}.
 */
enum Feature {
    SPAWN("spawn, info, list", null, "spawnInfoList", "spawnPoweredOff", "spawnDuplicate"),
    OWNER("list() shows only the context owner's instances", null, "listIsScopedToTheOwner"),
    FAILED_SPAWN("a failed spawn leaves nothing", null, "spawnUnknownImage", "spawnWrongFormat", "spawnFailsHalfWay"),
    DESTROY("destroy (idempotent), unknown ids", null, "unknownInstance", "destroyTwice"),
    POWER("power off / power on", null, "powerOffOn"),
    HARD_REBOOT("hard reboot", null, "hardRebootFromRunningAndShutdown", "hardRebootFromPaused"),
    SOFT_REBOOT("soft reboot", Capability.SOFT_REBOOT, "softReboot"),
    PAUSE("pause / unpause", Capability.PAUSE, "pauseUnpause", "pauseWhenOff"),
    SUSPEND("suspend / resume", Capability.SUSPEND, "suspendResume"),
    CONSOLE_LOG("console log", Capability.CONSOLE_LOG, "consoleLogBounded", "consoleLogLimits"),
    CONSOLE("interactive console", Capability.CONSOLE, "console*", "openConsole*"),
    EXEC("exec a command (stdin, output, exit code)", Capability.EXEC, "exec*"),
    INSTANCE_STATS("instance stats (CPU time, memory, VIF and disk counters)", Capability.INSTANCE_STATS, "stats*"),
    SNAPSHOT("snapshot", Capability.SNAPSHOT, "snapshotSpawnsAgain"),
    VIF_PLUG("VIFs plugged into OVS and attached at spawn", null, "spawnPlugsVifs", "spawnFailsWhenTheSwitchDoesNotAttach"),
    INTERFACE_HOTPLUG("attach / detach interface", Capability.INTERFACE_HOTPLUG, "attachDetachInterface"),
    RESOURCES("host resources", null, "resources"),
    LIFECYCLE_EVENTS("lifecycle events", Capability.LIFECYCLE_EVENTS, "lifecycleEvents", "lifecycleEventsExact"),
    IDEMPOTENCE("already-in-state answers (idempotence)", null, "idempotentAnswers"),
    WEDGED_BACKEND("a wedged backend times out, never hangs", null, "wedgedBackendTimesOut"),
    CONCURRENCY("concurrent operations", null, "parallelSpawnDestroy"),
    OTHER("other contract tests", null);

    private final String title;
    private final Capability capability;
    private final Set<String> methods;
    private final List<String> prefixes;

    Feature(String title, Capability capability, String... methods) {
        this.title = title;
        this.capability = capability;
        this.methods = Arrays.stream(methods).filter(m -> !m.endsWith("*")).collect(Collectors.toUnmodifiableSet());
        this.prefixes = Arrays.stream(methods).filter(m -> m.endsWith("*"))
                .map(m -> m.substring(0, m.length() - 1)).toList();
    }

    String title() {
        return title;
    }

    /** The capability a driver declares for this feature; empty for mandatory features. */
    Optional<Capability> capability() {
        return Optional.ofNullable(capability);
    }

    /** The tag form of the name: {@code hard-reboot}, {@code pause}. */
    String tag() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The feature a kit test gives evidence for: one of its JUnit tags if that names a feature, else its method. */
    static Feature of(String methodName, Set<String> tags) {
        List<Feature> all = Arrays.asList(values());
        return all.stream().filter(f -> tags.contains(f.tag())).findFirst()
                .or(() -> all.stream().filter(f -> f.methods.contains(methodName)).findFirst())
                .or(() -> all.stream().filter(f -> f.prefixes.stream().anyMatch(methodName::startsWith)).findFirst())
                .orElse(OTHER);
    }
}
