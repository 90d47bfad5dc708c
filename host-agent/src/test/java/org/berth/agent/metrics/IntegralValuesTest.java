package org.berth.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class IntegralValuesTest {
    private static String trim(String s) {
        return new String(IntegralValues.trim(s.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
    }

    @Test
    void wholeNumbersLoseTheirFractionAndExponentOnlyInTheValue() {
        assertEquals("""
                # HELP a_total Counts 1.0 things.
                # TYPE a_total counter
                a_total{x="1.0"} 12
                b -3
                c 123456789
                d 2.5
                e 1.5E-7
                f NaN
                g +Inf
                h 1.0E20
                """, trim("""
                # HELP a_total Counts 1.0 things.
                # TYPE a_total counter
                a_total{x="1.0"} 12.0
                b -3.0
                c 1.23456789E8
                d 2.5
                e 1.5E-7
                f NaN
                g +Inf
                h 1.0E20
                """));
    }

    @Test
    void aLabelValueWithAnEscapedNewlineStaysOneLine() {
        assertEquals("m{name=\"a\\nb 1.0\"} 7\n", trim("m{name=\"a\\nb 1.0\"} 7.0\n"));
        assertEquals("", trim(""));
        assertEquals("x 1", trim("x 1.0"), "no final newline");
    }
}
