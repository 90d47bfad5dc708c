package org.berth.driver.api;

/**
 * Where a driver publishes {@link LifecycleEvent}s. Implementations must be thread-safe and must not block:
 * drivers call it from their backend's event thread.
 */
@FunctionalInterface
public interface EventSink {
    /** A sink that drops every event. */
    EventSink DISCARD = event -> { };

    void publish(LifecycleEvent event);
}
