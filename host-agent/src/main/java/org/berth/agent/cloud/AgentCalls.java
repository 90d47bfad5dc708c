package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.berth.agent.cli.ApiClient;
import org.berth.agent.cli.CliException;
import org.berth.agent.cli.ClientTls;

/**
 * One host's agent API as {@code berth cloud} calls it: the hosts file's CA and client certificate (mutual TLS) plus
 * that agent's token, every request bounded by {@code timeout} (connect: 5 s). Errors are {@link CliException}s:
 * {@link CliException.ApiAnswered} (the agent answered an error: status, field, rule) or
 * {@link CliException.Unreachable}. Thread-safe (one HTTP client per instance).
 */
public final class AgentCalls {
    private static final Duration POLL = Duration.ofMillis(250);

    private final CloudHosts.Host host;
    private final ApiClient api;

    public AgentCalls(CloudHosts hosts, CloudHosts.Host host, Duration timeout) {
        this.host = host;
        this.api = new ApiClient(host.api().toString(), host.token(), timeout,
                new ClientTls(hosts.ca(), hosts.clientCert(), hosts.clientKey()));
    }

    public CloudHosts.Host host() {
        return host;
    }

    /** The raw client, for calls this class has no method for. */
    public ApiClient api() {
        return api;
    }

    /** {@code GET /v1/host}: the agent's capacity view. */
    public JsonNode hostInfo() {
        return api.get("/v1/host");
    }

    /** True when {@code GET /healthz} answers (within the timeout). */
    public boolean reachable() {
        try {
            api.text("/healthz");
            return true;
        } catch (CliException e) {
            return false;
        }
    }

    /** Every instance the agent holds ({@code GET /v1/instances}). */
    public List<JsonNode> instances() {
        List<JsonNode> out = new ArrayList<>();
        api.get("/v1/instances").path("instances").forEach(out::add);
        return out;
    }

    /** The instance ({@code GET /v1/instances/{uuid}}'s "instance"), or null when the agent has none (404). */
    public JsonNode instance(UUID uuid) {
        try {
            return api.get(path(uuid)).path("instance");
        } catch (CliException.ApiAnswered e) {
            if (e.status() == 404) {
                return null;
            }
            throw e;
        }
    }

    /** {@code POST /v1/instances}: the accepted instance (the agent spawns it in the background). */
    public JsonNode spawn(JsonNode body) {
        return api.post("/v1/instances", body).path("instance");
    }

    /**
     * {@code DELETE /v1/instances/{uuid}}; false when the agent has no such instance. An instance busy with a task
     * (409) is waited for (bounded by {@code limit}) and deleted then.
     */
    public boolean delete(UUID uuid, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            try {
                api.delete(path(uuid));
                return true;
            } catch (CliException.ApiAnswered e) {
                if (e.status() == 404) {
                    return false;
                }
                if (e.status() != 409 || System.nanoTime() > deadline) {
                    throw e;
                }
            }
            sleep(uuid);
        }
    }

    /**
     * Polls until the instance's task has finished (its record then), or with {@code gone} until the agent no
     * longer has it (null). Past {@code limit}: {@link CliException.Unreachable} naming the wait.
     */
    public JsonNode await(UUID uuid, Duration limit, boolean gone) {
        long deadline = System.nanoTime() + limit.toNanos();
        JsonNode last = null;
        while (true) {
            last = instance(uuid);
            if (last == null) {
                if (gone) {
                    return null;
                }
                throw new CliException.Failed(host.name() + ": instance " + uuid + " vanished while spawning");
            }
            if (!gone && last.path("task_state").isNull()) {
                return last;
            }
            if (System.nanoTime() > deadline) {
                throw new CliException.Unreachable(host.api() + path(uuid), (gone ? "it was not gone" : "its task did "
                        + "not finish") + " within " + limit.toSeconds() + " s (--wait-timeout); last: vm_state "
                        + last.path("vm_state").asText() + ", task_state " + last.path("task_state").asText());
            }
            sleep(uuid);
        }
    }

    /** Deletes the instance and waits until it is gone; false when the agent had none. */
    public boolean deleteAndWait(UUID uuid, Duration limit) {
        long t0 = System.nanoTime();
        boolean had = delete(uuid, limit);
        if (had) {
            await(uuid, limit.minusNanos(System.nanoTime() - t0).plusSeconds(1), true);
        }
        return had;
    }

    /**
     * True when the call failed because the connection was refused: the request never reached the agent (unlike a
     * timeout or a broken exchange, after which the agent may have acted on it).
     */
    public static boolean neverDelivered(CliException e) {
        return e instanceof CliException.Unreachable && e.getMessage().endsWith(": connection refused");
    }

    static String path(UUID uuid) {
        return "/v1/instances/" + uuid;
    }

    private void sleep(UUID uuid) {
        try {
            Thread.sleep(POLL.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException.Unreachable(host.api() + path(uuid), "interrupted");
        }
    }

    @Override
    public String toString() {
        return "AgentCalls[" + host.name() + " " + host.api() + "]";
    }
}
