package org.berth.agent.cloud;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The evacuated-from chain a rebuilt copy carries: oldest source first, each host once. */
class EvacuateChainTest {
    @Test
    void aFirstEvacuationNamesItsSource() {
        assertEquals("lab-h2", Evacuate.chain("", "lab-h2"));
    }

    @Test
    void anInstanceEvacuatedAgainNamesBothSourcesOldestFirst() {
        assertEquals("lab-h3,lab-h1", Evacuate.chain("lab-h3", "lab-h1"));
        assertEquals("lab-h3,lab-h1,lab-h2", Evacuate.chain("lab-h3, lab-h1", "lab-h2"));
    }

    @Test
    void aSourceNamedBeforeMovesToTheEnd() {
        assertEquals("lab-h1,lab-h3", Evacuate.chain("lab-h3,lab-h1", "lab-h3"));
    }
}
