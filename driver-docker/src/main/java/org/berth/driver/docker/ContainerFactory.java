package org.berth.driver.docker;

import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.LogConfig;
import com.github.dockerjava.api.model.Mount;
import com.github.dockerjava.api.model.MountType;
import com.github.dockerjava.api.model.RestartPolicy;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.berth.driver.api.Image;
import org.berth.driver.api.InstanceSpec;

/** Turns a spec into {@code docker create}: name, labels, limits and the confinement every instance gets. */
final class ContainerFactory {
    /**
     * Dropped on top of Docker's default set: raw device nodes, writing the host audit log, setting file
     * capabilities and chroot are not needed by an instance's workload. NET_RAW stays, so ping works on a VIF.
     */
    static final List<Capability> CAP_DROP =
            List.of(Capability.MKNOD, Capability.AUDIT_WRITE, Capability.SETFCAP, Capability.SYS_CHROOT);
    /** Property: the container's environment, one {@code NAME=value} per line. */
    static final String ENV = "env";

    private final Engine engine;
    private final DockerSettings settings;
    private final String owner;
    private volatile int hostCpus;

    ContainerFactory(Engine engine, DockerSettings settings, String owner) {
        this.engine = engine;
        this.settings = settings;
        this.owner = owner;
    }

    /**
     * Creates the stopped container and returns its id. {@code metadata} is the host directory mounted read-only at
     * {@link MetadataDir#MOUNT_POINT}, or null for none.
     */
    String create(InstanceSpec spec, Image image, String engineImageId, Path metadata) {
        long memory = (long) spec.flavor().memoryMb() << 20;
        var host = HostConfig.newHostConfig()
                .withNetworkMode("none") // VIFs are plugged by ovs-vif into the namespace, never by docker
                .withMemory(memory)
                .withMemorySwap(memory + ((long) spec.flavor().swapMb() << 20))
                // NanoCPUs, not shares: a hard ceiling of vcpus CPUs, as a VM with that many vCPUs has. Shares only
                // weigh under contention, so a 1-vCPU container could take the whole host and the scheduler's
                // VCPU accounting would mean nothing. The engine refuses more than the host has, hence the cap.
                .withNanoCPUs(Math.min(spec.flavor().vcpus(), hostCpus()) * 1_000_000_000L)
                .withPidsLimit((long) settings.pidsLimit())
                .withSecurityOpts(List.of("no-new-privileges"))
                .withCapDrop(CAP_DROP.toArray(Capability[]::new))
                .withRestartPolicy(RestartPolicy.noRestart()) // the agent decides what restarts, not the engine
                // json-file with rotation: console_log reads it, and a chatty instance cannot fill the disk.
                .withLogConfig(new LogConfig(LogConfig.LoggingType.JSON_FILE, Map.of("max-size", "10m", "max-file", "2")));
        if (metadata != null) {
            // a mount, not a -v bind: the engine refuses a missing source instead of creating an empty directory
            host.withMounts(List.of(new Mount().withType(MountType.BIND).withSource(metadata.toString())
                    .withTarget(MetadataDir.MOUNT_POINT).withReadOnly(true)));
        }
        var cmd = engine.client().createContainerCmd(engineImageId)
                .withName(engine.name(spec.uuid()))
                .withLabels(SpecLabels.of(spec, owner))
                .withHostName(spec.guest().hostname())
                .withHostConfig(host);
        String command = spec.property(InstanceSpec.COMMAND, image.property(InstanceSpec.COMMAND, ""));
        if (!command.isBlank()) {
            cmd.withCmd(lines(command));
        }
        // a variable of the env property wins over a metadata one of the same name: the operator set it explicitly,
        // and a duplicate name would leave the choice to each program's getenv
        Map<String, String> env = new LinkedHashMap<>();
        GuestEnvironment.of(spec.guest()).forEach(v -> env.put(name(v), v));
        lines(spec.property(ENV, "")).forEach(v -> env.put(name(v), v));
        if (!env.isEmpty()) {
            cmd.withEnv(List.copyOf(env.values()));
        }
        return engine.call("create", null, cmd::exec).getId();
    }

    private static String name(String variable) {
        int eq = variable.indexOf('=');
        return eq < 0 ? variable : variable.substring(0, eq);
    }

    private static List<String> lines(String text) {
        return Arrays.stream(text.split("\n")).filter(s -> !s.isEmpty()).toList();
    }

    private int hostCpus() {
        if (hostCpus == 0) {
            Integer n = engine.call("info", null, () -> engine.client().infoCmd().exec()).getNCPU();
            hostCpus = n == null || n < 1 ? 1 : n;
        }
        return hostCpus;
    }
}
