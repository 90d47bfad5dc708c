package org.berth.agent.cloud;

import java.util.UUID;

/**
 * Told when a move left an instance settled on one host (after confirm, revert and rebuild): whatever other hosts keep
 * of the instance's spec and host (evacuate's replicas) is to be republished from that host's record.
 */
@FunctionalInterface
public interface MoveHook {
    MoveHook NONE = (cloud, instance, host) -> "";

    /** Evacuate's spec replicas republished from the host's record (a failure is a warning: the move is done). */
    MoveHook REPLICAS = (cloud, instance, host) -> Replicas.publishQuietly(cloud, host, instance);

    /** Returns a warning for the user ("" when all went well); the move itself is done and stays done. */
    String settled(CloudCommand.Cloud cloud, UUID instance, String host);
}
