package org.berth.agent.capacity;

/** A spawn does not fit the host's free capacity (after ratios, counting in-flight spawns). */
public final class InsufficientCapacity extends RuntimeException {
    private final String resource;

    /**
     * @param limit   what the host offers of it (total less reserved, times the allocation ratio)
     * @param claimed what its instances (those being built included) hold
     */
    public InsufficientCapacity(String resource, long requested, long limit, long claimed) {
        super("not enough " + resource + " on this host: requested " + requested + ", free " + Math.max(0, limit - claimed)
                + " (limit " + limit + " after reserved and allocation ratio, claimed " + claimed
                + " by instances, those being built included)");
        this.resource = resource;
    }

    public String resource() {
        return resource;
    }
}
