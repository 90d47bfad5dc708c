package org.berth.driver.api;

import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Everything a driver gets from its host: nothing else is shared between drivers.
 *
 * @param config     the driver's options
 * @param images     where images are read from and snapshots go
 * @param vifPlugger the VIF plugger, or empty when the host has no network plugging (instances get no network)
 * @param events     where lifecycle events go
 * @param stateDir   a directory the driver owns for per-instance files (disks, console logs); it exists
 * @param owner      who the driver works for on this host (the agent, a conformance run): every instance it creates
 *                   carries this name in the backend, and {@link ComputeDriver#list()} returns only the instances
 *                   carrying it, so two users of one host do not adopt each other's instances. An instance that
 *                   carries no owner (made before owners existed) counts as {@link #DEFAULT_OWNER}'s. Operations by
 *                   uuid are not scoped: a uuid names one instance. 1-63 of {@code a-z 0-9 . _ -}.
 */
public record DriverContext(DriverConfig config, ImageStore images, Optional<VifPlugger> vifPlugger,
                            EventSink events, Path stateDir, String owner) {
    /** The owner of a context made without one, and of backend instances that carry none. */
    public static final String DEFAULT_OWNER = "berth";
    private static final Pattern OWNER = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");

    public DriverContext {
        Check.notNull(config, "context.config");
        Check.notNull(images, "context.images");
        Check.notNull(vifPlugger, "context.vif_plugger");
        Check.notNull(events, "context.events");
        Check.notNull(stateDir, "context.state_dir");
        Check.notNull(owner, "context.owner");
        if (!isOwner(owner)) {
            throw new IllegalArgumentException("context.owner: '" + Check.printable(owner)
                    + "' must be 1-63 characters of a-z, 0-9, '.', '_', '-' and start with a letter or digit");
        }
    }

    /** Whether {@code name} is a valid owner: 1-63 of {@code a-z 0-9 . _ -}, starting with a letter or digit. */
    public static boolean isOwner(String name) {
        return name != null && OWNER.matcher(name).matches();
    }

    /** A context for {@link #DEFAULT_OWNER}. */
    public DriverContext(DriverConfig config, ImageStore images, Optional<VifPlugger> vifPlugger, EventSink events,
                         Path stateDir) {
        this(config, images, vifPlugger, events, stateDir, DEFAULT_OWNER);
    }

    /** Whether an instance carrying {@code instanceOwner} is this context's; none (null or empty) is the default's. */
    public boolean owns(String instanceOwner) {
        return owner.equals(instanceOwner == null || instanceOwner.isEmpty() ? DEFAULT_OWNER : instanceOwner);
    }

    /** This context with another owner. */
    public DriverContext withOwner(String newOwner) {
        return new DriverContext(config, images, vifPlugger, events, stateDir, newOwner);
    }
}
