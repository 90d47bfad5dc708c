package org.berth.agent.reconcile;

import java.util.UUID;
import org.berth.agent.store.InstanceRecord;

/**
 * Asks Placement whether a local instance was evacuated (rebuilt on another host) while this agent was down. Both
 * methods throw (a {@link RuntimeException}) when Placement cannot tell now: the caller then acts on nothing.
 */
public interface EvacuatedCheck {
    /**
     * The spec property naming the host an instance was evacuated from ({@code berth cloud evacuate} sets it): the
     * rebuilt copy is told apart from the stale one by it, since both hosts' parts stay on the consumer meanwhile.
     * A copy is the rebuilt one only when every other holder is a host it names; a chain "C,A" (oldest first) names
     * the earlier sources of an instance evacuated twice while they stayed dead.
     */
    String EVACUATED_FROM = "berth.evacuated_from";

    /** Where the instance was rebuilt (a host name, else a provider uuid), or null when it is still this host's. */
    String rebuiltOn(InstanceRecord record);

    /** Removes this host's part of the instance's allocations, keeping the other providers' parts. */
    void releaseOurs(UUID uuid);
}
