package org.berth.agent.store;

/** Resources claimed by the instances the store holds (not deleted), in-flight spawns included. */
public record Usage(long vcpus, long memoryMb, long diskGb, int instances) {
}
