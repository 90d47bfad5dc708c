package org.berth.conformance.runner;

import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.berth.conformance.ComputeDriverConformance;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.DriverRegistry;
import org.berth.driver.api.VifPlugger;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The kit as the runner launches it: one class invocation per selected driver. JUnit instantiates this class
 * itself, so the drivers (found through the runner's class loader, which may hold jars from {@code --driver-path})
 * are handed over in a static field that only {@link Main} sets, before each launch. Named {@code *Suite}, not
 * {@code *Test}, and kept in main code so that Surefire never runs it on its own.
 */
@ParameterizedClass(name = "driver {0}")
@MethodSource("drivers")
class DriverSuite extends ComputeDriverConformance {
    /**
     * What a launch runs: the registry to take providers from, the driver names in order, and the VIF plugger the
     * drivers get (empty: VIF tests are skipped).
     */
    record Selection(DriverRegistry registry, List<String> names, Optional<VifPlugger> vif) {
        Selection {
            names = List.copyOf(names);
        }
    }

    private static volatile Selection selection;

    @Parameter
    String driverName;

    static void select(Selection s) {
        selection = s;
    }

    static Stream<String> drivers() {
        return current().names().stream();
    }

    private static Selection current() {
        Selection s = selection;
        if (s == null) {
            throw new IllegalStateException("DriverSuite runs from the conformance runner "
                    + "(org.berth.conformance.runner.Main), which selects the drivers; none were selected");
        }
        return s;
    }

    @Override
    protected ComputeDriverProvider provider() {
        return current().registry().get(driverName);
    }

    @Override
    protected Optional<VifPlugger> vifBackend() {
        return current().vif();
    }
}
