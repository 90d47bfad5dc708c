package org.berth.driver.api;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Everything a driver gets from its host: nothing else is shared between drivers.
 *
 * @param config     the driver's options
 * @param images     where images are read from and snapshots go
 * @param vifPlugger the VIF plugger, or empty when the host has no network plugging (instances get no network)
 * @param events     where lifecycle events go
 * @param stateDir   a directory the driver owns for per-instance files (disks, console logs); it exists
 */
public record DriverContext(DriverConfig config, ImageStore images, Optional<VifPlugger> vifPlugger,
                            EventSink events, Path stateDir) {
    public DriverContext {
        Check.notNull(config, "context.config");
        Check.notNull(images, "context.images");
        Check.notNull(vifPlugger, "context.vif_plugger");
        Check.notNull(events, "context.events");
        Check.notNull(stateDir, "context.state_dir");
    }
}
