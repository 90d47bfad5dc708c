package org.berth.driver.kvm;

import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;
import org.berth.driver.api.DriverException;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.libvirt.jna.Libvirt;

/**
 * One libvirt connection plus the bounded platform-thread pool every blocking libvirt call runs on (JNA pins
 * virtual threads). Each call has a timeout; a lost connection is dropped and reopened by the next call.
 */
final class LibvirtSession implements AutoCloseable {
    static final String BACKEND = "libvirt";
    private static final int THREADS = 8;

    @FunctionalInterface
    interface Call<T> {
        T run(Connect connect) throws LibvirtException;
    }

    /** libvirt prints every error to stderr by default; errors reach callers as exceptions instead. */
    private static final Libvirt.VirErrorCallback QUIET = (userData, error) -> { };
    private static final AtomicBoolean QUIETED = new AtomicBoolean();

    private final String uri;
    private final Duration timeout;
    private final Consumer<Connect> onConnect;
    private final Function<LibvirtException, String> connectFailure;
    private final ThreadPoolExecutor pool;
    private final ReentrantLock lock = new ReentrantLock();
    private Connect connect; // guarded by lock
    private final AtomicLong calls = new AtomicLong();

    /** {@code connectFailure} says why opening {@code uri} failed (the detail of BackendUnavailable). */
    LibvirtSession(String uri, Duration timeout, Consumer<Connect> onConnect,
                   Function<LibvirtException, String> connectFailure) {
        this.uri = uri;
        this.timeout = timeout;
        this.onConnect = onConnect;
        this.connectFailure = connectFailure;
        AtomicInteger n = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(THREADS, THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(1024),
                r -> {
                    Thread t = new Thread(r, "berth-libvirt-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
        if (QUIETED.compareAndSet(false, true)) {
            try {
                Connect.setErrorCallback(QUIET);
            } catch (LibvirtException | RuntimeException | LinkageError e) {
                QUIETED.set(false); // errors are still printed, nothing else changes
            }
        }
    }

    Duration timeout() {
        return timeout;
    }

    /** Calls submitted so far (tests count them). */
    long calls() {
        return calls.get();
    }

    <T> T call(String operation, UUID uuid, Call<T> call) {
        return call(operation, uuid, timeout, call);
    }

    /** Runs {@code call} on the pool and waits at most {@code limit}; libvirt errors become driver exceptions. */
    <T> T call(String operation, UUID uuid, Duration limit, Call<T> call) {
        return bounded(operation, limit, () -> {
            Connect c = connection();
            try {
                return call.run(c);
            } catch (LibvirtException e) {
                throw LibvirtErrors.map(operation, uuid, e, c, this);
            }
        });
    }

    /**
     * Runs {@code task} on the pool and waits at most {@code limit}: for libvirt calls that need no connection
     * lookup (a console stream's send and abort).
     */
    <T> T bounded(String operation, Duration limit, Callable<T> task) {
        calls.incrementAndGet();
        Future<T> future;
        try {
            future = pool.submit(task);
        } catch (RejectedExecutionException e) {
            throw new DriverException.BackendUnavailable(BACKEND, "driver is closed or overloaded", e);
        }
        try {
            return future.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new DriverException.OperationTimedOut(operation, limit, "libvirt " + uri);
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new DriverException.OperationTimedOut(operation, limit, "interrupted");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof DriverException de) {
                throw de;
            }
            if (cause instanceof IllegalArgumentException iae) {
                throw iae;
            }
            throw new DriverException.BackendFailure(BACKEND, operation, String.valueOf(cause), cause);
        }
    }

    /**
     * The open connection, opened first if needed. Waiting for the lock is interruptible: a connect that hangs in
     * libvirt (a wedged daemon) holds it, and the calls queued behind it must still end at their deadline.
     */
    private Connect connection() throws InterruptedException {
        lock.lockInterruptibly();
        try {
            if (connect != null && !connect.isAlive()) {
                dropLocked();
            }
            if (connect == null) {
                connect = new Connect(uri);
                onConnect.accept(connect);
            }
            return connect;
        } catch (LibvirtException e) {
            dropLocked();
            throw new DriverException.BackendUnavailable(BACKEND, connectFailure.apply(e), e);
        } finally {
            lock.unlock();
        }
    }

    /** Forgets the connection so that the next call reconnects. */
    void drop() {
        lock.lock();
        try {
            dropLocked();
        } finally {
            lock.unlock();
        }
    }

    private void dropLocked() {
        if (connect != null) {
            try {
                connect.close();
            } catch (LibvirtException | RuntimeException ignored) {
                // the connection is already broken; nothing to release
            }
            connect = null;
        }
    }

    @Override
    public void close() {
        pool.shutdown();
        try {
            pool.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool.shutdownNow();
        // A connect stuck in libvirt (wedged daemon) keeps the lock and cannot be interrupted: leave that
        // connection to its daemon thread rather than hang the caller.
        try {
            if (lock.tryLock(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                try {
                    dropLocked();
                } finally {
                    lock.unlock();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
