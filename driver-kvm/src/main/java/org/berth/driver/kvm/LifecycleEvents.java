package org.berth.driver.kvm;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.berth.driver.api.EventSink;
import org.berth.driver.api.LifecycleEvent;
import org.berth.driver.api.LifecycleEvent.Transition;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.Library;
import org.libvirt.LibvirtException;
import org.libvirt.event.DomainEvent;
import org.libvirt.event.LifecycleListener;
import org.libvirt.event.StoppedDetail;

/**
 * libvirt lifecycle events of Berth's domains to {@link LifecycleEvent}s. libvirt's default event loop is
 * process-wide: it is registered once and run on one daemon thread for every driver in the JVM.
 */
final class LifecycleEvents implements LifecycleListener {
    private static final AtomicBoolean LOOP_STARTED = new AtomicBoolean();
    private static final String PREFIX = "berth-";
    private final EventSink sink;
    /** The last transition seen per domain (published or not), from its definition to its undefinition. */
    private final Map<UUID, Transition> last = new ConcurrentHashMap<>();

    LifecycleEvents(EventSink sink) {
        this.sink = sink;
    }

    /** Registers the default event loop implementation (before any connection is opened) and runs it. */
    static synchronized void startLoop() throws LibvirtException {
        if (LOOP_STARTED.get()) {
            return;
        }
        Library.initEventLoop();
        Thread loop = new Thread(() -> {
            try {
                Library.runEventLoop();
            } catch (LibvirtException | InterruptedException e) {
                LOOP_STARTED.set(false);
            }
        }, "berth-libvirt-events");
        loop.setDaemon(true);
        loop.start();
        LOOP_STARTED.set(true);
    }

    void register(Connect connect) {
        try {
            connect.addLifecycleListener(this);
        } catch (LibvirtException e) {
            throw new IllegalStateException("cannot register libvirt lifecycle events: " + e.getMessage(), e);
        }
    }

    @Override
    public int onLifecycleChange(Domain domain, DomainEvent event) {
        try {
            String name = domain.getName();
            if (name == null || !name.startsWith(PREFIX)) {
                return 0;
            }
            UUID uuid = UUID.fromString(name.substring(PREFIX.length()));
            published(uuid, event).ifPresent(t -> sink.publish(new LifecycleEvent(uuid, t, Instant.now())));
        } catch (LibvirtException | RuntimeException e) {
            // not a Berth domain or a sink failure: the event thread must keep running
        }
        return 0;
    }

    /**
     * The transition to publish for {@code event}, if any. QEMU boots with its CPUs stopped and libvirt resumes
     * them, so every start also reports RESUMED next to STARTED; only a RESUMED that ends a pause is published
     * (LifecycleEvent documents one STARTED per start). The last transition of each domain is kept from its
     * definition to its undefinition; a domain seen first in a paused state keeps its RESUMED.
     */
    Optional<Transition> published(UUID uuid, DomainEvent event) {
        switch (event.getType()) {
            case UNDEFINED -> {
                last.remove(uuid);
                return Optional.empty();
            }
            case DEFINED -> {
                last.putIfAbsent(uuid, Transition.STOPPED);
                return Optional.empty();
            }
            default -> {
                Optional<Transition> t = transition(event);
                if (t.isEmpty()) {
                    return t;
                }
                Transition before = last.get(uuid);
                if (t.get() == Transition.RESUMED && before != null && before != Transition.PAUSED) {
                    return Optional.empty(); // the resume of a start, not of a pause
                }
                last.put(uuid, t.get());
                return t;
            }
        }
    }

    static Optional<Transition> transition(DomainEvent event) {
        return switch (event.getType()) {
            case STARTED -> Optional.of(Transition.STARTED);
            case RESUMED -> Optional.of(Transition.RESUMED);
            case SUSPENDED -> Optional.of(Transition.PAUSED);
            case PMSUSPENDED -> Optional.of(Transition.SUSPENDED);
            case CRASHED -> Optional.of(Transition.CRASHED);
            case STOPPED -> {
                Object detail = event.getDetail();
                if (detail == StoppedDetail.SAVED) {
                    yield Optional.of(Transition.SUSPENDED);
                }
                if (detail == StoppedDetail.CRASHED || detail == StoppedDetail.FAILED) {
                    yield Optional.of(Transition.CRASHED);
                }
                yield Optional.of(Transition.STOPPED);
            }
            default -> Optional.empty();
        };
    }
}
