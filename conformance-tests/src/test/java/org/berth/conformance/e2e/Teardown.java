package org.berth.conformance.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.berth.driver.api.ComputeDriver;

/** The end of an end-to-end test: every instance is destroyed even when one destroy fails. */
public final class Teardown {
    private Teardown() {
    }

    /** Destroys each instance with its driver; one line per failure, empty when all went. */
    public static List<String> destroyAll(List<Map.Entry<ComputeDriver, UUID>> instances) {
        var problems = new ArrayList<String>();
        for (var instance : instances) {
            try {
                instance.getKey().destroy(instance.getValue());
            } catch (RuntimeException e) {
                problems.add("destroy " + instance.getValue() + ": " + e);
            }
        }
        return problems;
    }
}
