package org.berth.driver.api;

/**
 * The {@link java.util.ServiceLoader} entry of a driver: list the implementing class in
 * {@code META-INF/services/org.berth.driver.api.ComputeDriverProvider}. Implementations must have a public
 * no-argument constructor, be cheap to construct and must not touch the backend before {@link #create}.
 */
public interface ComputeDriverProvider {
    /** The driver's unique name, e.g. {@code kvm} or {@code docker}; matches {@link DriverInfo#name()}. */
    String name();

    /**
     * Connects to the backend and returns a ready driver. Thread-safe.
     *
     * @throws DriverException.InvalidConfiguration  if an option is invalid (naming the option)
     * @throws DriverException.BackendUnavailable    if the backend cannot be reached
     */
    ComputeDriver create(DriverContext context);

    /** The driver's version: by default the jar manifest's Implementation-Version. */
    default String version() {
        String v = getClass().getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
