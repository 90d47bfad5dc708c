package org.berth.conformance;

import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.DriverRegistry;
import org.berth.driver.api.VifPlugger;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Runs the whole kit against every driver ServiceLoader finds on the test class path (reference, docker, kvm),
 * with VIFs plugged by the VIF plugger ServiceLoader finds (ovs-vif), or only the one named by {@code -Dberth.driver=NAME} ({@code all} by default; a comma-separated list works).
 */
@ParameterizedClass(name = "driver {0}")
@MethodSource("drivers")
class ServiceLoadedDriversConformanceTest extends ComputeDriverConformance {
    private static final DriverRegistry REGISTRY = DriverRegistry.load(ServiceLoadedDriversConformanceTest.class.getClassLoader());

    @Parameter
    String driverName;

    static Stream<String> drivers() {
        String wanted = System.getProperty("berth.driver", "all").trim();
        if (wanted.isEmpty() || wanted.equals("all")) {
            return REGISTRY.names().stream();
        }
        List<String> names = List.of(wanted.split("\\s*,\\s*"));
        names.forEach(REGISTRY::get); // fails naming the drivers found when one is missing
        return names.stream();
    }

    @Override
    protected ComputeDriverProvider provider() {
        return REGISTRY.get(driverName);
    }

    /**
     * The VIF plugger ServiceLoader finds on the test class path (ovs-vif's {@code ovs} on br-int), as the runner
     * finds it; {@code -Dberth.vif=none} runs without. Shared by every driver of the run; closed at JVM exit.
     */
    @Override
    protected Optional<VifPlugger> vifBackend() {
        return VifBackends.choose(REGISTRY, System.getProperty("berth.vif", VifBackends.AUTO)).map(VifBackends::open);
    }
}
