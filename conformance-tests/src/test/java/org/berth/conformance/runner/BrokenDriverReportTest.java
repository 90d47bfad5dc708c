package org.berth.conformance.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.conformance.host.HostCommand;
import org.junit.jupiter.api.Test;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * The deliberately broken drivers of {@code BrokenDriversTest} (wrong state after pause, leaked veth) as the
 * runner reports them: the console line, the Markdown report and the support matrix name the contract rule
 * broken and the leaked artefact.
 */
class BrokenDriverReportTest {
    private static final String FIXTURES = "org.berth.conformance.reference.BrokenDriversTest$";

    private record Run(List<Outcome> outcomes, String console, String report) {
    }

    private static Run run(String fixture, String method) {
        var out = new ByteArrayOutputStream();
        var listener = new RunListener(new PrintStream(out, true, StandardCharsets.UTF_8));
        LauncherFactory.create().execute(LauncherDiscoveryRequestBuilder.request()
                .selectors(selectMethod(FIXTURES + fixture, method)).build(), listener);
        var matrix = new SupportMatrix(new java.util.TreeMap<>(), listener.outcomes());
        String report = new RunReport(listener.outcomes(), matrix, Duration.ZERO).markdown();
        return new Run(listener.outcomes(), out.toString(StandardCharsets.UTF_8), report);
    }

    @Test
    void aWrongStateAfterPauseIsReportedByRule() {
        Run r = run("WrongPauseStateConformance", "pauseUnpause");
        assertEquals(1, r.outcomes().size(), r.console());
        Outcome o = r.outcomes().get(0);
        assertEquals(Outcome.Status.FAILED, o.status(), r.console());
        assertEquals(Feature.PAUSE, o.feature());
        assertEquals("pause reports PAUSED", o.rule().orElseThrow(), o.message());
        assertTrue(r.console().contains("rule:   pause reports PAUSED"), r.console());
        assertTrue(r.report().contains("- rule broken: **pause reports PAUSED**"), r.report());
        assertTrue(r.report().contains("expected: <PAUSED> but was: <RUNNING>"), r.report());
    }

    @Test
    void aLeakedVethIsReportedByRuleAndByName() {
        assumeTrue(HostCommand.find("ip").isPresent(), "no iproute2 on this host");
        Run r = run("LeakyVethConformance", "spawnFailsHalfWay");
        assertEquals(1, r.outcomes().size(), r.console());
        Outcome o = r.outcomes().get(0);
        Matcher m = Pattern.compile("network device ((tap|ns)[0-9a-f-]{11}) \\(port [0-9a-f-]{36}\\)").matcher(o.message());
        var leaked = new java.util.ArrayList<String>();
        while (m.find()) {
            leaked.add(m.group());
            HostCommand.run(Duration.ofSeconds(10), "ip", "link", "del", m.group(1)); // the fixture's own leak
        }
        assertTrue(leaked.stream().anyMatch(l -> l.startsWith("network device tap")), "the kit names the leaked veth: " + o.message());
        assertEquals(Outcome.Status.FAILED, o.status(), r.console());
        assertEquals("a failed spawn leaves nothing", o.rule().orElseThrow(), o.message());
        assertEquals(leaked, o.leaks(), o.message());
        assertTrue(r.console().contains("rule:   a failed spawn leaves nothing"), r.console());
        for (String l : leaked) {
            assertTrue(r.console().contains("leaked: " + l), r.console());
            assertTrue(r.report().contains("- leaked: `" + l + "`"), r.report());
        }
    }
}
