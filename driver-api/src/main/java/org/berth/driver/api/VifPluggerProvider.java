package org.berth.driver.api;

/**
 * The {@link java.util.ServiceLoader} entry of a VIF plugger, as {@link ComputeDriverProvider} is a driver's: list
 * the implementing class in {@code META-INF/services/org.berth.driver.api.VifPluggerProvider}. Whoever builds
 * {@link DriverContext}s (the agent, the conformance runner) finds pluggers through {@link DriverRegistry#load} and
 * hands the one it created to every driver; drivers never look one up themselves. Implementations must have a
 * public no-argument constructor, be cheap to construct and must not touch the network backend before
 * {@link #create}.
 */
public interface VifPluggerProvider {
    /** The plugger's unique name, e.g. {@code ovs}. */
    String name();

    /**
     * Connects to the network backend and returns a ready plugger; the caller closes it. Thread-safe.
     *
     * @param config the plugger's options; {@link DriverConfig#driver()} is this provider's {@link #name()}
     * @throws DriverException.InvalidConfiguration if an option is invalid (naming the option)
     * @throws DriverException.BackendUnavailable   if the backend cannot be reached
     */
    VifPlugger create(DriverConfig config);

    /** The plugger's version: by default the jar manifest's Implementation-Version. */
    default String version() {
        String v = getClass().getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
