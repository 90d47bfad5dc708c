package org.berth.conformance.runner;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The result of one kit test against one driver, with what a reader needs when it failed: the contract rule the
 * assertion named ({@code contract '<rule>'}) and the host artefacts the leak check found.
 *
 * @param driver   the driver's name, or {@code ?} for a failure outside any driver (e.g. discovery)
 * @param method   the kit's test method, e.g. {@code pauseUnpause}
 * @param title    the test's display name
 * @param feature  the support-matrix row it counts for
 * @param status   passed, failed or skipped
 * @param duration wall time of the test
 * @param message  the failure or skip reason; empty when passed
 */
record Outcome(String driver, String method, String title, Feature feature, Status status, Duration duration,
               String message) {
    enum Status { PASSED, FAILED, SKIPPED }

    private static final Pattern RULE = Pattern.compile("contract '([^']+)'");
    private static final Pattern LEAK_LIST = Pattern.compile("broken: \\[(.*)]", Pattern.DOTALL);

    /** The first contract rule the message names; empty when the assertion named none. */
    Optional<String> rule() {
        Matcher m = RULE.matcher(message);
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** The leaked artefacts the message lists: {@code leaked …} lines and leak-check lists. */
    List<String> leaks() {
        var leaks = new ArrayList<String>();
        message.lines().map(String::strip).filter(l -> l.startsWith("leaked "))
                .forEach(l -> leaks.add(l.substring("leaked ".length())));
        Matcher m = LEAK_LIST.matcher(message);
        if (m.find() && !m.group(1).isBlank()) {
            for (String leak : m.group(1).split(", (?=(container|libvirt domain|network device|OVS interface|file) )")) {
                leaks.add(leak.strip());
            }
        }
        return leaks;
    }

    /** The message's first line, for one-line summaries. */
    String headline() {
        return message.lines().findFirst().orElse("").strip();
    }
}
