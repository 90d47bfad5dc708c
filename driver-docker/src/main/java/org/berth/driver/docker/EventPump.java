package org.berth.driver.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.model.Event;
import com.github.dockerjava.api.model.EventType;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.LifecycleEvent;
import org.berth.driver.api.LifecycleEvent.Transition;

/**
 * The engine's {@code /events} stream (containers with Berth's label only) as {@link LifecycleEvent}s, on one
 * daemon thread. When the stream ends (engine restart, idle timeout) it reconnects with backoff and asks for
 * the events since the last one seen, skipping those already published.
 */
final class EventPump implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EventPump.class.getName());
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

    private final DockerClient client;
    private final EventSink sink;
    private final java.util.function.Function<UUID, String> nameOf;
    private final Thread thread;
    private volatile boolean closed;
    private volatile ResultCallback.Adapter<Event> current;
    private long lastNanos;

    /**
     * @param nameOf the name this host gives an instance's container: on one engine shared by several agents (the
     *               lab), another host's container of the same uuid (a migration's other side) is not ours
     */
    EventPump(DockerClient client, EventSink sink, java.util.function.Function<UUID, String> nameOf) {
        this.client = client;
        this.sink = sink;
        this.nameOf = nameOf;
        Instant now = Instant.now();
        this.lastNanos = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        this.thread = Thread.ofPlatform().daemon().name("berth-docker-events").unstarted(this::run);
    }

    void start() {
        thread.start();
    }

    /** Docker's container event action in Berth's transition, if it is one. */
    static Optional<Transition> transition(String action) {
        if (action == null) {
            return Optional.empty();
        }
        return switch (action) {
            case "start" -> Optional.of(Transition.STARTED);
            case "die" -> Optional.of(Transition.STOPPED); // "stop" and "kill" always come with a "die"
            case "pause" -> Optional.of(Transition.PAUSED);
            case "unpause" -> Optional.of(Transition.RESUMED);
            case "oom" -> Optional.of(Transition.CRASHED);
            default -> Optional.empty();
        };
    }

    private void run() {
        long backoff = 100;
        while (!closed) {
            var callback = new ResultCallback.Adapter<Event>() {
                @Override
                public void onNext(Event e) {
                    deliver(e);
                }
            };
            current = callback;
            try {
                String since = (lastNanos / 1_000_000_000L) + "." + String.format("%09d", lastNanos % 1_000_000_000L);
                client.eventsCmd().withEventTypeFilter(EventType.CONTAINER).withLabelFilter(SpecLabels.UUID_LABEL)
                        .withSince(since).exec(callback);
                while (!closed && !callback.awaitCompletion(1, TimeUnit.SECONDS)) {
                    backoff = 100; // connected and healthy
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                if (!closed) {
                    LOG.log(Level.FINE, "docker event stream broke, reconnecting in " + backoff + " ms", e);
                }
            } finally {
                closeQuietly(callback);
            }
            try {
                Thread.sleep(backoff);
            } catch (InterruptedException e) {
                return;
            }
            backoff = Math.min(MAX_BACKOFF.toMillis(), backoff * 2);
        }
    }

    private void deliver(Event e) {
        long nanos = e.getTimeNano() != null ? e.getTimeNano() : (e.getTime() == null ? 0 : e.getTime() * 1_000_000_000L);
        synchronized (this) {
            if (nanos != 0 && nanos <= lastNanos) {
                return; // replayed after a reconnect
            }
            lastNanos = Math.max(lastNanos, nanos);
        }
        String action = e.getAction() != null ? e.getAction() : e.getStatus();
        String label = e.getActor() == null || e.getActor().getAttributes() == null
                ? null : e.getActor().getAttributes().get(SpecLabels.UUID_LABEL);
        Optional<Transition> t = transition(action);
        if (label == null || t.isEmpty()) {
            return;
        }
        String name = e.getActor().getAttributes().get("name");
        try {
            UUID uuid = UUID.fromString(label);
            if (name != null && !name.replaceFirst("^/", "").equals(nameOf.apply(uuid))) {
                return;
            }
            sink.publish(new LifecycleEvent(uuid, t.get(), Instant.now()));
        } catch (RuntimeException ex) {
            LOG.log(Level.WARNING, "event sink rejected a docker event", ex);
        }
    }

    private static void closeQuietly(ResultCallback.Adapter<Event> callback) {
        try {
            callback.close();
        } catch (IOException | RuntimeException e) {
            // The stream is being abandoned anyway.
        }
    }

    @Override
    public void close() {
        closed = true;
        var c = current;
        if (c != null) {
            closeQuietly(c);
        }
        thread.interrupt();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
