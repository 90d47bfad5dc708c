package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.LongNode;
import io.netty.channel.Channel;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The calls that wait for an answer, by JSON-RPC id, over every connection of one client. Each entry leaves the map
 * exactly once: on its answer, on its timeout, or when its connection fails; so the map never grows without bound.
 */
final class PendingCalls {
    private record Call(String method, Channel channel, CompletableFuture<JsonNode> future) {
    }

    private final ConcurrentHashMap<Long, Call> calls = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();

    /** Sends {@code method(params)} on {@code channel}; the future ends within {@code timeout}, whatever the peer does. */
    CompletableFuture<JsonNode> call(Channel channel, String method, ArrayNode params, Duration timeout) {
        return call(channel, method, params, timeout, timeout);
    }

    /** As above; {@code nominal} is the caller's whole timeout, named in the error ({@code timeout} is what is left). */
    CompletableFuture<JsonNode> call(Channel channel, String method, ArrayNode params, Duration timeout,
                                     Duration nominal) {
        long id = ids.incrementAndGet();
        CompletableFuture<JsonNode> future = new CompletableFuture<>();
        calls.put(id, new Call(method, channel, future));
        var timer = channel.eventLoop().schedule(() -> fail(id, new OvsdbException(OvsdbException.Kind.TIMEOUT,
                "ovsdb-server did not answer " + method + " within " + nominal.toMillis() + " ms")),
                timeout.toNanos(), TimeUnit.NANOSECONDS);
        future.whenComplete((r, e) -> timer.cancel(false));
        channel.writeAndFlush(new JsonRpcMessage.Request(LongNode.valueOf(id), method, params)).addListener(w -> {
            if (!w.isSuccess()) {
                fail(id, new OvsdbException(OvsdbException.Kind.DISCONNECTED,
                        "could not send " + method + " to ovsdb-server: " + w.cause(), w.cause()));
            }
        });
        return future;
    }

    /** Completes the call the response answers; unknown ids (answers after a timeout) are dropped. */
    void complete(JsonRpcMessage.Response response) {
        if (!response.id().canConvertToLong()) {
            return;
        }
        Call call = calls.remove(response.id().asLong());
        if (call == null) {
            return;
        }
        if (response.isError()) {
            JsonNode error = response.error();
            call.future().completeExceptionally(new OvsdbException(OvsdbException.Kind.ERROR,
                    "ovsdb-server answered " + call.method() + " with error: "
                            + (error.isTextual() ? error.asText() : error.toString())));
        } else {
            call.future().complete(response.result());
        }
    }

    /** Fails every call sent on {@code channel}: the connection is gone or can no longer be trusted. */
    void failAll(Channel channel, OvsdbException.Kind kind, String why, Throwable cause) {
        calls.forEach((id, call) -> {
            if (call.channel() == channel && calls.remove(id, call)) {
                call.future().completeExceptionally(new OvsdbException(kind,
                        call.method() + " failed: " + why, cause));
            }
        });
    }

    private void fail(long id, OvsdbException error) {
        Call call = calls.remove(id);
        if (call != null) {
            call.future().completeExceptionally(error);
        }
    }

    int size() {
        return calls.size();
    }
}
