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

/**
 * The drivers found on a class path. An object, not a global: load it from the class loader you mean.
 * Logs name, version and jar of each provider and refuses two providers with one name.
 */
public final class DriverRegistry {
    private static final System.Logger LOG = System.getLogger(DriverRegistry.class.getName());

    private final Map<String, ComputeDriverProvider> providers;

    private DriverRegistry(Map<String, ComputeDriverProvider> providers) {
        this.providers = Collections.unmodifiableMap(providers);
    }

    /**
     * Finds every {@link ComputeDriverProvider} visible to {@code loader}.
     *
     * @throws IllegalStateException if two providers share a name, or a provider cannot be instantiated
     */
    public static DriverRegistry load(ClassLoader loader) {
        var found = new LinkedHashMap<String, ComputeDriverProvider>();
        try {
            for (ComputeDriverProvider p : ServiceLoader.load(ComputeDriverProvider.class, loader)) {
                register(found, p);
            }
        } catch (ServiceConfigurationError e) {
            throw new IllegalStateException("a compute driver provider could not be loaded: " + e.getMessage(), e);
        }
        return new DriverRegistry(found);
    }

    /** A registry of exactly these providers (for tests and embedding); same duplicate rule. */
    public static DriverRegistry of(List<ComputeDriverProvider> list) {
        var found = new LinkedHashMap<String, ComputeDriverProvider>();
        list.forEach(p -> register(found, p));
        return new DriverRegistry(found);
    }

    private static void register(Map<String, ComputeDriverProvider> found, ComputeDriverProvider p) {
        String name = Check.name(p.name(), "provider.name");
        ComputeDriverProvider other = found.putIfAbsent(name, p);
        if (other != null) {
            throw new IllegalStateException("two compute driver providers are named '" + name + "': "
                    + describe(other) + " and " + describe(p) + "; remove one jar from the class path");
        }
        LOG.log(Level.INFO, "compute driver " + describe(p));
    }

    static String describe(ComputeDriverProvider p) {
        return p.name() + " " + p.version() + " (" + p.getClass().getName() + " from " + origin(p.getClass()) + ")";
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
        ComputeDriverProvider p = providers.get(name);
        if (p == null) {
            throw new IllegalArgumentException("driver: '" + Check.printable(String.valueOf(name))
                    + "' is not on the class path; found: " + (providers.isEmpty() ? "none" : String.join(", ", providers.keySet())));
        }
        return p;
    }

    public List<ComputeDriverProvider> providers() {
        return List.copyOf(providers.values());
    }
}
