package org.berth.driver.kvm;

import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.DriverContext;

/** The KVM/QEMU driver through libvirt, found by {@link java.util.ServiceLoader} as {@code kvm}. */
public final class KvmDriverProvider implements ComputeDriverProvider {
    static final String NAME = "kvm";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ComputeDriver create(DriverContext context) {
        KvmConfig config = KvmConfig.from(context.config());
        return KvmDriver.open(config, context, version());
    }
}
