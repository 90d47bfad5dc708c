package org.berth.driver.api;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

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
     * @throws DriverException.StateDirUnreachable   if the backend's own user (e.g. QEMU's) cannot reach
     *                                               {@link DriverContext#stateDir()}: a driver whose backend opens
     *                                               files there must check it here, not fail every spawn later
     */
    ComputeDriver create(DriverContext context);

    /**
     * Declares how to point this driver at a backend that listens on the unix socket {@code socket}, with every
     * backend call bounded by {@code callTimeout}: the options to {@link #create} it with (docker:
     * {@code host=unix://SOCKET}; kvm: {@code uri=qemu+unix:///system?socket=SOCKET}; plus the driver's call
     * timeout option). The conformance suite uses it to check that a wedged backend (one that accepts the
     * connection and never answers) makes operations fail within their bound instead of hanging. Empty (the
     * default) when the driver's backend cannot be reached that way; the suite then skips that check.
     */
    default Optional<Map<String, String>> backendOnSocket(Path socket, Duration callTimeout) {
        return Optional.empty();
    }

    /** The driver's version: by default the jar manifest's Implementation-Version. */
    default String version() {
        String v = getClass().getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }
}
