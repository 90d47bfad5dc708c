package org.berth.agent.fake;

import java.util.concurrent.atomic.AtomicInteger;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;

/**
 * "flaky": its backend is down for the first {@code fail_times} connection attempts (option, default: forever),
 * then it behaves as the fake driver. Counts per provider object (one per agent), not in a static.
 */
public final class FlakyDriverProvider implements ComputeDriverProvider {
    private final AtomicInteger attempts = new AtomicInteger();

    @Override
    public String name() {
        return "flaky";
    }

    @Override
    public ComputeDriver create(DriverContext context) {
        int failTimes = context.config().integer("fail_times", Integer.MAX_VALUE, 0, Integer.MAX_VALUE);
        if (attempts.incrementAndGet() <= failTimes) {
            throw new DriverException.BackendUnavailable("flaky backend", "connection refused (attempt "
                    + attempts.get() + ")", null);
        }
        return new FakeDriver(context);
    }
}
