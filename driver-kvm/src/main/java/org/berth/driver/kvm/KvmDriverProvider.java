package org.berth.driver.kvm;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
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

    /** libvirt's remote protocol on that socket ({@code qemu+unix:///system?socket=SOCKET}) and {@code call_timeout}. */
    @Override
    public Optional<Map<String, String>> backendOnSocket(Path socket, Duration callTimeout) {
        return Optional.of(Map.of("uri", "qemu+unix:///system?socket=" + socket.toAbsolutePath(),
                "call_timeout", callTimeout.toMillis() + "ms"));
    }

    @Override
    public ComputeDriver create(DriverContext context) {
        KvmConfig config = KvmConfig.from(context.config());
        return KvmDriver.open(config, context, version());
    }
}
