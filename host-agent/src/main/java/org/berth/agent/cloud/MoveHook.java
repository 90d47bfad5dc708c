package org.berth.agent.cloud;

import java.util.UUID;

/**
 * Told when a move left an instance settled on one host (after confirm, revert and rebuild): whatever other hosts keep
 * of the instance's spec and host (evacuate's replicas) is to be republished from that host's record.
 */
@FunctionalInterface
public interface MoveHook {
    MoveHook NONE = (cloud, instance, host) -> { };

    void settled(CloudCommand.Cloud cloud, UUID instance, String host);
}
