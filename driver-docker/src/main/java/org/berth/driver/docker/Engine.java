package org.berth.driver.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.ConflictException;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.exception.NotModifiedException;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.PowerState;

/**
 * The engine connection plus the one place where docker-java's exceptions become {@link DriverException}s:
 * 404 → not found, 409 → invalid state (re-inspected), socket timeout → timed out, any other I/O → unavailable.
 */
final class Engine implements AutoCloseable {
    static final String BACKEND = "docker";

    private final DockerClient client;
    private final Duration callTimeout;
    private final DockerSettings settings;

    /** Threads that run engine calls so each one can be abandoned at its deadline; idle ones die after 30 s. */
    private final ExecutorService workers = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS,
            new SynchronousQueue<>(), Thread.ofPlatform().daemon().name("berth-docker-call-", 0).factory());

    Engine(DockerClient client, DockerSettings settings) {
        this.client = client;
        this.callTimeout = settings.callTimeout();
        this.settings = settings;
    }

    /** The container name of an instance ({@link DockerSettings#containerName}). */
    String name(UUID uuid) {
        return settings.containerName(uuid);
    }

    /** A client whose every request is bounded by {@code responseTimeout} (the socket read timeout). */
    static DockerClient connect(DockerSettings settings, Duration responseTimeout) {
        var config = DefaultDockerClientConfig.createDefaultConfigBuilder()
                .withDockerHost(settings.host())
                .withApiVersion(settings.apiVersion())
                .build();
        var http = new ApacheDockerHttpClient.Builder()
                .dockerHost(URI.create(settings.host()))
                .sslConfig(config.getSSLConfig())
                .maxConnections(64)
                .connectionTimeout(min(settings.callTimeout(), Duration.ofSeconds(10)))
                .responseTimeout(responseTimeout)
                .build();
        return DockerClientImpl.getInstance(config, http);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) < 0 ? a : b;
    }

    DockerClient client() {
        return client;
    }

    Duration callTimeout() {
        return callTimeout;
    }

    DockerSettings settings() {
        return settings;
    }

    /** Runs one engine call for {@code uuid} (may be null when no instance is concerned) and maps its errors. */
    <T> T call(String operation, UUID uuid, Supplier<T> call) {
        return call(operation, uuid, callTimeout, call);
    }

    /**
     * As {@link #call(String, UUID, Supplier)} within {@code timeout}. The HTTP response timeout alone is not a
     * bound: over a unix socket docker-java's httpclient5 transport reads through an NIO channel, which ignores
     * SO_TIMEOUT, so a hung engine would block the caller forever. The call runs on a worker thread instead;
     * when the deadline passes the worker is interrupted, which closes its channel and frees the connection.
     */
    <T> T call(String operation, UUID uuid, Duration timeout, Supplier<T> call) {
        Future<T> future = workers.submit(() -> mapped(operation, uuid, call));
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new DriverException.OperationTimedOut("docker " + operation, timeout, "the engine did not answer");
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new DriverException.OperationTimedOut("docker " + operation, timeout, "interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new DriverException.BackendFailure(BACKEND, operation, String.valueOf(e.getCause()), e.getCause());
        } catch (RejectedExecutionException e) {
            throw new DriverException.BackendUnavailable(BACKEND, operation + ": the driver is closed", e);
        }
    }

    private <T> T mapped(String operation, UUID uuid, Supplier<T> call) {
        try {
            return call.get();
        } catch (NotModifiedException e) {
            return null; // 304: start of a running or stop of a stopped container, already in the wanted state
        } catch (NotFoundException e) {
            if (uuid != null) {
                throw new DriverException.InstanceNotFound(uuid);
            }
            throw new DriverException.BackendFailure(BACKEND, operation, e.getMessage(), e);
        } catch (ConflictException e) {
            if (uuid != null) {
                throw new DriverException.InvalidInstanceState(uuid, operation, stateNow(uuid));
            }
            throw new DriverException.BackendFailure(BACKEND, operation, e.getMessage(), e);
        } catch (DriverException e) {
            throw e;
        } catch (DockerException e) {
            throw new DriverException.BackendFailure(BACKEND, operation, e.getMessage(), e);
        } catch (RuntimeException e) {
            throw transportFailure(operation, e);
        }
    }

    void run(String operation, UUID uuid, Runnable call) {
        call(operation, uuid, () -> {
            call.run();
            return null;
        });
    }

    /** Maps a failure that carries no HTTP status: a timeout, a refused connection, a broken stream. */
    DriverException transportFailure(String operation, Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SocketTimeoutException || t instanceof InterruptedIOException
                    || t instanceof java.util.concurrent.TimeoutException) {
                return new DriverException.OperationTimedOut("docker " + operation, callTimeout, t.getMessage());
            }
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof IOException) {
                return new DriverException.BackendUnavailable(BACKEND, operation + ": " + t, e);
            }
        }
        return new DriverException.BackendUnavailable(BACKEND, operation + ": " + e, e);
    }

    /** The container of {@code uuid} if it exists and carries Berth's label for that uuid. */
    Optional<InspectContainerResponse> inspect(UUID uuid) {
        try {
            var c = call("inspect", null, () -> client.inspectContainerCmd(name(uuid)).exec());
            var labels = c.getConfig() == null ? null : c.getConfig().getLabels();
            if (labels == null || !uuid.toString().equals(labels.get(SpecLabels.UUID_LABEL))) {
                return Optional.empty();
            }
            return Optional.of(c);
        } catch (DriverException.BackendFailure e) {
            if (e.getCause() instanceof NotFoundException) {
                return Optional.empty();
            }
            throw e;
        }
    }

    InspectContainerResponse require(UUID uuid) {
        return inspect(uuid).orElseThrow(() -> new DriverException.InstanceNotFound(uuid));
    }

    /** The instance's power state as the engine reports it now; NOSTATE when gone or unknown (after a 409). */
    PowerState stateNow(UUID uuid) {
        try {
            return inspect(uuid).map(PowerStates::of).orElse(PowerState.NOSTATE);
        } catch (DriverException e) {
            return PowerState.NOSTATE;
        }
    }

    @Override
    public void close() {
        workers.shutdownNow();
        try {
            client.close();
        } catch (IOException e) {
            // Closing the connection pool cannot fail in a way the caller could act on.
        }
    }
}
