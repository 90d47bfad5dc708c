package org.berth.driver.docker;

import java.time.Duration;
import org.berth.driver.api.DriverConfig;

/**
 * The driver's options ({@code drivers.docker.<key>}).
 *
 * @param host        engine endpoint: option {@code host}, else {@code DOCKER_HOST}, else the local unix socket
 * @param apiVersion  the engine API version spoken (option {@code api_version}); 1.41 is dockerd 20.10's maximum
 *                    and newer engines still accept it
 * @param stopTimeout grace period of soft reboot before SIGKILL (option {@code stop_timeout})
 * @param callTimeout bound of every single engine call (option {@code call_timeout})
 * @param pidsLimit   process limit per container (option {@code pids_limit})
 * @param namePrefix  containers are named {@code <prefix><uuid>} (option {@code container_name_prefix}, default
 *                    {@code berth-}, as Nova's {@code instance_name_template}): agents that share one engine (the
 *                    lab's hosts) need distinct names, since a migrating or evacuated instance exists on two of them
 *                    under one uuid
 * @param blkioAccounting option {@code blkio_accounting} (default true): on a cgroup v1 host, the first
 *                    {@code stats()} writes "no limit" for the disk of the engine's data root into the root blkio
 *                    cgroup when no rule for it is there, which a kernel since 6.10 needs before it counts a
 *                    container's block I/O ({@link Cgroups#activateV1IoAccounting}); false leaves the host's
 *                    blkio settings alone and v1 disk figures zero, as {@code docker stats} shows them then
 */
record DockerSettings(String host, String apiVersion, Duration stopTimeout, Duration callTimeout, int pidsLimit,
                      String namePrefix, boolean blkioAccounting) {
    static final String DEFAULT_HOST = "unix:///var/run/docker.sock";
    static final String DEFAULT_PREFIX = "berth-";
    private static final java.util.regex.Pattern PREFIX = java.util.regex.Pattern.compile("berth-([a-z0-9][a-z0-9_.-]{0,23}-)?");

    static DockerSettings from(DriverConfig config) {
        String env = System.getenv("DOCKER_HOST");
        String host = config.string("host", env == null || env.isBlank() ? DEFAULT_HOST : env);
        return new DockerSettings(host,
                config.string("api_version", "1.41"),
                config.duration("stop_timeout", Duration.ofSeconds(10), Duration.ofMinutes(10)),
                config.duration("call_timeout", Duration.ofSeconds(60), Duration.ofMinutes(30)),
                config.integer("pids_limit", 1024, 16, 1 << 22),
                prefix(config.string("container_name_prefix", DEFAULT_PREFIX)),
                flag(config, "blkio_accounting", true));
    }

    /** A true/false option; anything else is refused naming it. */
    private static boolean flag(DriverConfig config, String key, boolean fallback) {
        String v = config.string(key).map(s -> s.trim().toLowerCase(java.util.Locale.ROOT)).orElse(null);
        if (v == null) {
            return fallback;
        }
        if (!v.equals("true") && !v.equals("false")) {
            throw new org.berth.driver.api.DriverException.InvalidConfiguration("drivers.docker." + key,
                    config.string(key).orElseThrow().replaceAll("\\p{Cntrl}", "?"), "must be true or false");
        }
        return v.equals("true");
    }

    private static String prefix(String p) {
        if (!PREFIX.matcher(p).matches()) {
            throw new org.berth.driver.api.DriverException.InvalidConfiguration("drivers.docker.container_name_prefix",
                    p.replaceAll("\\p{Cntrl}", "?"), "must be 'berth-' or 'berth-' + 1-24 characters of "
                    + "a-z 0-9 _ . - (starting with a letter or digit) + '-', e.g. berth-lab-h1-");
        }
        return p;
    }

    /** The container name of an instance. */
    String containerName(java.util.UUID uuid) {
        return namePrefix + uuid;
    }
}
