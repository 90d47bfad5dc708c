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
 */
record DockerSettings(String host, String apiVersion, Duration stopTimeout, Duration callTimeout, int pidsLimit) {
    static final String DEFAULT_HOST = "unix:///var/run/docker.sock";

    static DockerSettings from(DriverConfig config) {
        String env = System.getenv("DOCKER_HOST");
        String host = config.string("host", env == null || env.isBlank() ? DEFAULT_HOST : env);
        return new DockerSettings(host,
                config.string("api_version", "1.41"),
                config.duration("stop_timeout", Duration.ofSeconds(10), Duration.ofMinutes(10)),
                config.duration("call_timeout", Duration.ofSeconds(60), Duration.ofMinutes(30)),
                config.integer("pids_limit", 1024, 16, 1 << 22));
    }
}
