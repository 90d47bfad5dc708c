package org.berth.conformance.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.berth.conformance.ComputeDriverConformance;
import org.berth.driver.api.Capability;
import org.junit.jupiter.api.Test;

class FeatureTest {
    @Test
    void anExactNameWinsOverAPrefix() {
        assertEquals(Feature.CONSOLE_LOG, Feature.of("consoleLogBounded", Set.of()));
        assertEquals(Feature.CONSOLE, Feature.of("consoleEchoesInput", Set.of()));
        assertEquals(Feature.CONSOLE, Feature.of("openConsoleTwice", Set.of()));
        assertEquals(Feature.EXEC, Feature.of("execExitCode", Set.of()));
        assertEquals(Feature.OTHER, Feature.of("somethingElse", Set.of()));
        assertEquals(Feature.PAUSE, Feature.of("execExitCode", Set.of("pause")), "a tag wins over the name");
    }

    @Test
    void theInteractiveCapabilitiesAreRows() {
        assertEquals(Capability.CONSOLE, Feature.CONSOLE.capability().orElseThrow());
        assertEquals(Capability.EXEC, Feature.EXEC.capability().orElseThrow());
        assertEquals("exec", Feature.EXEC.tag());
    }

    /** Every kit test gives evidence for a row of the matrix; none falls into "other contract tests". */
    @Test
    void everyKitTestHasAFeature() {
        List<String> unmapped = Arrays.stream(ComputeDriverConformance.class.getDeclaredMethods())
                .filter(m -> m.isAnnotationPresent(Test.class)).map(Method::getName)
                .filter(n -> Feature.of(n, Set.of()) == Feature.OTHER).sorted().toList();
        assertEquals(List.of(), unmapped);
    }
}
