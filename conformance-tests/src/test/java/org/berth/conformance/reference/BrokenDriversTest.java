package org.berth.conformance.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.conformance.ComputeDriverConformance;
import org.berth.conformance.host.HostCommand;
import org.berth.driver.api.ComputeDriverProvider;
import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;

/**
 * The kit must fail, readably, on a driver that breaks the contract: it names the rule and what leaked.
 * The broken suites are nested classes that Surefire does not run by itself; the JUnit test kit runs them here.
 */
class BrokenDriversTest {
    static class LeakyDriverConformance extends ComputeDriverConformance {
        @Override
        protected ComputeDriverProvider provider() {
            return ReferenceDriverProvider.broken("reference-leaky", true, false);
        }
    }

    static class WrongPauseStateConformance extends ComputeDriverConformance {
        @Override
        protected ComputeDriverProvider provider() {
            return ReferenceDriverProvider.broken("reference-wrong-pause", false, true);
        }
    }

    static class LeakyVethConformance extends ComputeDriverConformance {
        @Override
        protected ComputeDriverProvider provider() {
            return ReferenceDriverProvider.leakingVeth("reference-leaky-veth");
        }
    }

    private static String onlyFailure(Class<?> suite, String method) {
        EngineExecutionResults results = EngineTestKit.engine("junit-jupiter")
                .selectors(selectMethod(suite, method)).execute();
        List<Event> failed = results.testEvents().failed().list();
        assertEquals(1, failed.size(), () -> "expected the kit to fail " + method + " of " + suite.getSimpleName()
                + "; events: " + results.testEvents().list());
        return failed.get(0).getPayload(org.junit.platform.engine.TestExecutionResult.class).orElseThrow()
                .getThrowable().orElseThrow().getMessage();
    }

    @Test
    void aLeakedInstanceDirectoryFailsTheTestAndIsNamed() {
        String message = onlyFailure(LeakyDriverConformance.class, "destroyTwice");
        assertTrue(message.contains("destroy removes every host artefact"), message);
        assertTrue(message.contains("file ") && message.contains("/state/"), "names the leaked file: " + message);
    }

    @Test
    void aWrongStateAfterPauseFailsTheTestAndNamesTheRule() {
        String message = onlyFailure(WrongPauseStateConformance.class, "pauseUnpause");
        assertTrue(message.contains("pause reports PAUSED"), message);
        assertTrue(message.contains("expected: <PAUSED> but was: <RUNNING>"), message);
    }

    @Test
    void aVethLeftByAFailedSpawnFailsTheTestAndIsNamed() {
        assumeTrue(HostCommand.find("ip").isPresent(), "no iproute2 on this host");
        String message = onlyFailure(LeakyVethConformance.class, "spawnFailsHalfWay");
        Matcher leaked = Pattern.compile("network device (tap[0-9a-f-]{11}) \\(port ([0-9a-f-]{36})\\)").matcher(message);
        assertTrue(leaked.find(), "names the leaked veth and its port: " + message);
        HostCommand.run(Duration.ofSeconds(10), "ip", "link", "del", leaked.group(1)); // the fixture's own leak
        assertTrue(message.contains("a failed spawn leaves nothing"), message);
    }

    @Test
    void theCorrectReferenceDriverPassesTheSameTests() {
        EngineExecutionResults results = EngineTestKit.engine("junit-jupiter")
                .selectors(selectMethod(CorrectConformance.class, "destroyTwice"),
                        selectMethod(CorrectConformance.class, "pauseUnpause"))
                .execute();
        results.testEvents().assertStatistics(s -> s.started(2).succeeded(2).failed(0));
    }

    static class CorrectConformance extends ComputeDriverConformance {
        @Override
        protected ComputeDriverProvider provider() {
            return new ReferenceDriverProvider("reference-checked", ReferenceDriver.Faults.NONE);
        }
    }
}
