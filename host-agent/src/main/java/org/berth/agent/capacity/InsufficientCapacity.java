package org.berth.agent.capacity;

/** A spawn does not fit the host's free capacity (after ratios, counting in-flight spawns). */
public final class InsufficientCapacity extends RuntimeException {
    private final String resource;

    public InsufficientCapacity(String resource, long requested, long free) {
        super("not enough " + resource + " on this host: requested " + requested + ", free " + free
                + " (after allocation ratios, counting instances being built)");
        this.resource = resource;
    }

    public String resource() {
        return resource;
    }
}
