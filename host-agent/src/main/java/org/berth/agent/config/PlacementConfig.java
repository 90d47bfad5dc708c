package org.berth.agent.config;

import java.net.URI;
import java.time.Duration;

/**
 * How the agent reports the host to OpenStack Placement (see host-agent/README.md, "Placement").
 *
 * @param host                    the resource provider's name (YAML {@code host}, Nova's option; default the hostname)
 * @param updateResourcesInterval the periodic sync (YAML {@code update_resources_interval}, Nova's option)
 * @param enabled                 {@code placement.enabled}; false (the default): nothing is reported
 * @param url                     {@code placement.url}, the Placement endpoint (http or https, no query)
 * @param auth                    {@code placement.auth}: {@code noauth2} (the token is sent as X-Auth-Token)
 * @param token                   {@code placement.token}; never printed ({@link #toString()} hides it)
 * @param timeout                 {@code placement.timeout}: connect and answer bound of every request
 * @param maxBackoff              {@code placement.max_backoff}: the longest wait between retries while failing
 */
public record PlacementConfig(String host, Duration updateResourcesInterval, boolean enabled, URI url, String auth,
                              String token, Duration timeout, Duration maxBackoff) {

    @Override
    public String toString() {
        return "PlacementConfig[host=" + host + ", update_resources_interval=" + updateResourcesInterval
                + ", enabled=" + enabled + ", url=" + url + ", auth=" + auth + ", token=<hidden>, timeout=" + timeout
                + ", max_backoff=" + maxBackoff + "]";
    }
}
