package org.berth.conformance.reference;

import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.DriverContext;

/** The in-memory reference driver, found by ServiceLoader in the conformance module's tests as "reference". */
public final class ReferenceDriverProvider implements ComputeDriverProvider {
    private final String name;
    private final ReferenceDriver.Faults faults;

    public ReferenceDriverProvider() {
        this("reference", ReferenceDriver.Faults.NONE);
    }

    ReferenceDriverProvider(String name, ReferenceDriver.Faults faults) {
        this.name = name;
        this.faults = faults;
    }

    /** A deliberately broken variant for the kit's own tests. */
    static ReferenceDriverProvider broken(String name, boolean leakInstanceDir, boolean pauseReportsRunning) {
        return new ReferenceDriverProvider(name, new ReferenceDriver.Faults(leakInstanceDir, pauseReportsRunning, false));
    }

    /** A variant whose failed spawn leaves its tap/ns veth pair on the host. */
    static ReferenceDriverProvider leakingVeth(String name) {
        return new ReferenceDriverProvider(name, new ReferenceDriver.Faults(false, false, true));
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public ComputeDriver create(DriverContext context) {
        return new ReferenceDriver(name, context, faults);
    }
}
