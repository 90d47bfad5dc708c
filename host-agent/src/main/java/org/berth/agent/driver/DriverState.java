package org.berth.agent.driver;

import java.time.Instant;
import org.berth.driver.api.DriverInfo;

/**
 * What GET /v1/drivers shows for one driver.
 *
 * @param info      the driver's self-description, null until it connected once
 * @param error     why it is unavailable, null when available
 * @param attempts  connection attempts so far
 * @param nextRetry when the next attempt runs, null when available
 */
public record DriverState(String name, String version, boolean available, DriverInfo info, String error,
                          int attempts, Instant nextRetry) {
}
