package org.berth.conformance;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.LifecycleEvent;

/** Keeps every lifecycle event a driver publishes, so tests can wait for one. Thread-safe. */
public final class RecordingEventSink implements EventSink {
    private final List<LifecycleEvent> events = new ArrayList<>();

    @Override
    public synchronized void publish(LifecycleEvent event) {
        events.add(event);
        notifyAll();
    }

    public synchronized List<LifecycleEvent> events(UUID uuid) {
        return events.stream().filter(e -> e.uuid().equals(uuid)).toList();
    }

    /** The transitions published for {@code uuid}, in order. */
    public synchronized List<LifecycleEvent.Transition> transitions(UUID uuid) {
        return events(uuid).stream().map(LifecycleEvent::transition).toList();
    }

    /** Waits up to {@code timeout} until {@code uuid} has at least {@code count} events; returns its transitions. */
    public synchronized List<LifecycleEvent.Transition> awaitCount(UUID uuid, int count, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<LifecycleEvent.Transition> now = transitions(uuid);
            long left = deadline - System.nanoTime();
            if (now.size() >= count || left <= 0) {
                return now;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    /** Waits up to {@code timeout} for an event of {@code uuid} with {@code transition}. */
    public synchronized Optional<LifecycleEvent> await(UUID uuid, LifecycleEvent.Transition transition, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Optional<LifecycleEvent> hit = events.stream()
                    .filter(e -> e.uuid().equals(uuid) && e.transition() == transition).findFirst();
            long left = deadline - System.nanoTime();
            if (hit.isPresent() || left <= 0) {
                return hit;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }
}
