package org.berth.conformance;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.berth.driver.api.DriverRegistry;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifPluggerProvider;

/**
 * The real VIF plugger a run hands to its drivers, found with {@link java.util.ServiceLoader} like the drivers
 * (ovs-vif's {@code ovs} on the class path or the driver path). Created once per JVM and name, with options from
 * {@code -Dberth.vif.<name>.<key>=value}, and closed at exit: connecting is slow and every driver shares it.
 */
public final class VifBackends {
    /** {@code --vif} / {@code -Dberth.vif} value that picks no plugger (VIF tests are then skipped). */
    public static final String NONE = "none";
    /** The default choice: {@code ovs} if found, else the only plugger found, else none. */
    public static final String AUTO = "auto";

    private static final Map<String, VifPlugger> OPEN = new ConcurrentHashMap<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> OPEN.values().forEach(VifPlugger::close), "berth-vif-close"));
    }

    private VifBackends() {
    }

    /**
     * The provider {@code wanted} names in {@code registry}: {@link #AUTO}, {@link #NONE} or a plugger name.
     *
     * @throws IllegalArgumentException if a named plugger is not there (naming those found)
     */
    public static Optional<VifPluggerProvider> choose(DriverRegistry registry, String wanted) {
        String w = wanted == null || wanted.isBlank() ? AUTO : wanted.trim();
        if (w.equals(NONE)) {
            return Optional.empty();
        }
        if (!w.equals(AUTO)) {
            return Optional.of(registry.vifPlugger(w));
        }
        List<String> names = registry.vifPluggerNames();
        return registry.findVifPlugger("ovs").or(() -> names.size() == 1 ? registry.findVifPlugger(names.get(0)) : Optional.empty());
    }

    /** The open plugger of {@code provider}, created on first use; the provider's errors propagate. */
    public static VifPlugger open(VifPluggerProvider provider) {
        return OPEN.computeIfAbsent(provider.name(), n -> provider.create(Harness.config("berth.vif.", n)));
    }
}
