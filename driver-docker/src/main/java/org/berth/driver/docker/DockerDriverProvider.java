package org.berth.driver.docker;

import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.berth.driver.api.Capability;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.ContainerFormat;
import org.berth.driver.api.DiskFormat;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.DriverInfo;
import org.berth.driver.api.ImageFormat;

/**
 * The {@code docker} driver: containers on a Docker engine (API 1.41+, dockerd 20.10 or newer) through
 * docker-java over httpclient5; {@code stats()} reads a local engine's cgroup files ({@link ContainerStats}). Options ({@code drivers.docker.*}): {@code host}, {@code api_version},
 * {@code stop_timeout}, {@code call_timeout}, {@code pids_limit}, {@code container_name_prefix}.
 */
public final class DockerDriverProvider implements ComputeDriverProvider {
    static final String NAME = "docker";

    @Override
    public String name() {
        return NAME;
    }

    /** {@code host=unix://SOCKET} and {@code call_timeout}: the engine API spoken on that socket. */
    @Override
    public Optional<Map<String, String>> backendOnSocket(Path socket, Duration callTimeout) {
        return Optional.of(Map.of("host", "unix://" + socket.toAbsolutePath(), "call_timeout", callTimeout.toMillis() + "ms"));
    }

    @Override
    public ComputeDriver create(DriverContext context) {
        DockerSettings settings = DockerSettings.from(context.config());
        var engine = new Engine(Engine.connect(settings, settings.callTimeout()), settings);
        try {
            engine.run("ping", null, () -> engine.client().pingCmd().exec());
        } catch (DriverException e) {
            engine.close();
            throw e;
        }
        EnumSet<Capability> caps = EnumSet.of(Capability.PAUSE, Capability.SOFT_REBOOT, Capability.CONSOLE_LOG,
                Capability.SNAPSHOT, Capability.LIFECYCLE_EVENTS);
        if (Wire.reaches(settings.host()) && !tls(settings)) {
            caps.add(Capability.EXEC); // exec streams use a raw connection of their own: no TLS on it
            // a local engine's cgroup files, or a remote one's one-shot stats over the same kind of raw connection
            caps.add(Capability.INSTANCE_STATS);
        }
        if (context.vifPlugger().isPresent()) {
            caps.add(Capability.INTERFACE_HOTPLUG); // hot-plug is the plugger's work; without one there is none
        }
        var info = new DriverInfo(NAME, version(), "docker", caps, List.of(new ImageFormat(DiskFormat.RAW,
                ContainerFormat.DOCKER)));
        // The event stream idles for long stretches: its own client with a read timeout that only forces a
        // periodic reconnect, so the instance calls keep their short one.
        var events = new EventPump(Engine.connect(settings, Duration.ofMinutes(5)), context.events(),
                settings::containerName);
        var driver = new DockerDriver(info, settings, engine, events, context);
        events.start();
        return driver;
    }

    /** Whether docker-java would speak TLS to the engine ({@code DOCKER_TLS_VERIFY} and its certificates). */
    private static boolean tls(DockerSettings settings) {
        return com.github.dockerjava.core.DefaultDockerClientConfig.createDefaultConfigBuilder()
                .withDockerHost(settings.host()).build().getSSLConfig() != null;
    }
}
