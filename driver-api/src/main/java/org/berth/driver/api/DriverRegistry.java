package org.berth.driver.api;

import java.lang.System.Logger.Level;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.function.Function;

/**
 * The drivers and VIF pluggers found on a class path. An object, not a global: load it from the class loader you
 * mean. Logs name, version and jar of each provider and refuses two providers of one kind with one name.
 */
public final class DriverRegistry {
    private static final System.Logger LOG = System.getLogger(DriverRegistry.class.getName());

    private final Map<String, ComputeDriverProvider> providers;
    private final Map<String, VifPluggerProvider> vifPluggers;

    private DriverRegistry(Map<String, ComputeDriverProvider> providers, Map<String, VifPluggerProvider> vifPluggers) {
        this.providers = Collections.unmodifiableMap(providers);
        this.vifPluggers = Collections.unmodifiableMap(vifPluggers);
    }

    /**
     * Finds every {@link ComputeDriverProvider} and {@link VifPluggerProvider} visible to {@code loader}.
     *
     * @throws IllegalStateException if two providers of one kind share a name, or a provider cannot be instantiated
     */
    public static DriverRegistry load(ClassLoader loader) {
        var drivers = new LinkedHashMap<String, ComputeDriverProvider>();
        var vifs = new LinkedHashMap<String, VifPluggerProvider>();
        try {
            for (ComputeDriverProvider p : ServiceLoader.load(ComputeDriverProvider.class, loader)) {
                register(drivers, p, "compute driver", p.name(), DriverRegistry::describe);
            }
            for (VifPluggerProvider p : ServiceLoader.load(VifPluggerProvider.class, loader)) {
                register(vifs, p, "VIF plugger", p.name(), DriverRegistry::describe);
            }
        } catch (ServiceConfigurationError e) {
            throw new IllegalStateException("a driver or VIF plugger provider could not be loaded: " + e.getMessage(), e);
        }
        return new DriverRegistry(drivers, vifs);
    }

    /** A registry of exactly these driver providers and no VIF plugger (for tests and embedding); same duplicate rule. */
    public static DriverRegistry of(List<ComputeDriverProvider> list) {
        var found = new LinkedHashMap<String, ComputeDriverProvider>();
        list.forEach(p -> register(found, p, "compute driver", p.name(), DriverRegistry::describe));
        return new DriverRegistry(found, new LinkedHashMap<>());
    }

    private static <P> void register(Map<String, P> found, P p, String kind, String rawName,
                                     Function<P, String> describe) {
        String name = Check.name(rawName, "provider.name");
        P other = found.putIfAbsent(name, p);
        if (other != null) {
            throw new IllegalStateException("two " + kind + " providers are named '" + name + "': "
                    + describe.apply(other) + " and " + describe.apply(p) + "; remove one jar from the class path");
        }
        LOG.log(Level.INFO, kind + " " + describe.apply(p));
    }

    static String describe(ComputeDriverProvider p) {
        return describe(p.name(), p.version(), p.getClass());
    }

    static String describe(VifPluggerProvider p) {
        return describe(p.name(), p.version(), p.getClass());
    }

    private static String describe(String name, String version, Class<?> type) {
        return name + " " + version + " (" + type.getName() + " from " + origin(type) + ")";
    }

    private static String origin(Class<?> type) {
        CodeSource source = type.getProtectionDomain().getCodeSource();
        if (source == null || source.getLocation() == null) {
            return "an unknown location";
        }
        try {
            return Path.of(source.getLocation().toURI()).toString();
        } catch (URISyntaxException | IllegalArgumentException e) {
            return source.getLocation().toString();
        }
    }

    /** Provider names in discovery order. */
    public List<String> names() {
        return List.copyOf(providers.keySet());
    }

    public Optional<ComputeDriverProvider> find(String name) {
        return Optional.ofNullable(providers.get(name));
    }

    /**
     * The provider named {@code name}.
     *
     * @throws IllegalArgumentException naming the drivers that were found
     */
    public ComputeDriverProvider get(String name) {
        return required(providers, name, "driver");
    }

    private static <P> P required(Map<String, P> found, String name, String kind) {
        P p = found.get(name);
        if (p == null) {
            throw new IllegalArgumentException(kind + ": '" + Check.printable(String.valueOf(name))
                    + "' is not on the class path; found: " + (found.isEmpty() ? "none" : String.join(", ", found.keySet())));
        }
        return p;
    }

    public List<ComputeDriverProvider> providers() {
        return List.copyOf(providers.values());
    }

    /** VIF plugger provider names in discovery order. */
    public List<String> vifPluggerNames() {
        return List.copyOf(vifPluggers.keySet());
    }

    public Optional<VifPluggerProvider> findVifPlugger(String name) {
        return Optional.ofNullable(vifPluggers.get(name));
    }

    /**
     * The VIF plugger provider named {@code name}.
     *
     * @throws IllegalArgumentException naming the pluggers that were found
     */
    public VifPluggerProvider vifPlugger(String name) {
        return required(vifPluggers, name, "vif plugger");
    }

    public List<VifPluggerProvider> vifPluggers() {
        return List.copyOf(vifPluggers.values());
    }
}
