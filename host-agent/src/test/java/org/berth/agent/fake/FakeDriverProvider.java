package org.berth.agent.fake;

import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.DriverContext;

/** ServiceLoader entry of the test driver "fake". */
public final class FakeDriverProvider implements ComputeDriverProvider {
    @Override
    public String name() {
        return "fake";
    }

    @Override
    public ComputeDriver create(DriverContext context) {
        return new FakeDriver(context);
    }
}
