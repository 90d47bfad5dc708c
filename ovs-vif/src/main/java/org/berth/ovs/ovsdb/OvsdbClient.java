package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.json.JsonObjectDecoder;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A native RFC 7047 client: one connection to ovsdb-server, calls correlated by id, each bounded by a timeout.
 * When the connection drops, pending calls fail at once ({@link OvsdbException.Kind#DISCONNECTED}) and the client
 * reconnects in the background with exponential backoff; calls made meanwhile wait for the connection, within
 * their own timeout. Thread-safe.
 *
 * <p>Pipeline: {@link JsonObjectDecoder} (bounded frames) → {@link JsonRpcCodec} → {@link RpcHandler}.
 */
public final class OvsdbClient implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(OvsdbClient.class.getName());

    /**
     * @param callTimeout   default bound for each call
     * @param maxFrameBytes largest JSON message accepted from the server
     * @param idleEcho      send an {@code echo} after this long without input (zero: never)
     * @param backoffMin    first reconnect delay, doubled per failed attempt up to {@code backoffMax}
     */
    public record Options(Duration connectTimeout, Duration callTimeout, int maxFrameBytes, Duration idleEcho,
                          Duration backoffMin, Duration backoffMax) {
        public static Options defaults() {
            return new Options(Duration.ofSeconds(10), Duration.ofSeconds(10), 16 << 20, Duration.ofSeconds(5),
                    Duration.ofMillis(50), Duration.ofSeconds(2));
        }

        public Options withCallTimeout(Duration timeout) {
            return new Options(connectTimeout, timeout, maxFrameBytes, idleEcho, backoffMin, backoffMax);
        }

        public Options withMaxFrameBytes(int bytes) {
            return new Options(connectTimeout, callTimeout, bytes, idleEcho, backoffMin, backoffMax);
        }

        public Options withIdleEcho(Duration idle) {
            return new Options(connectTimeout, callTimeout, maxFrameBytes, idle, backoffMin, backoffMax);
        }
    }

    private final OvsdbEndpoint endpoint;
    private final Options options;
    private final EventLoopGroup group;
    private final Bootstrap bootstrap;
    private final PendingCalls pending = new PendingCalls();
    private final List<Consumer<JsonRpcMessage.Notification>> listeners = new CopyOnWriteArrayList<>();
    private final Object lock = new Object();
    private CompletableFuture<Channel> connection = new CompletableFuture<>();
    private Duration backoff;
    private volatile boolean closed;

    private OvsdbClient(OvsdbEndpoint endpoint, Options options) {
        this.endpoint = endpoint;
        this.options = options;
        this.backoff = options.backoffMin();
        boolean epoll = Epoll.isAvailable();
        if (!epoll && endpoint.isUnix()) {
            throw new OvsdbException(OvsdbException.Kind.DISCONNECTED, "cannot connect to " + endpoint
                    + ": unix sockets need Netty's native epoll transport: " + Epoll.unavailabilityCause());
        }
        this.group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("ovsdb-client", true),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        this.bootstrap = new Bootstrap().group(group)
                .channel(endpoint.isUnix() ? EpollDomainSocketChannel.class
                        : epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(options.connectTimeout().toMillis(), 30_000))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        long idle = options.idleEcho().toMillis();
                        if (idle > 0) {
                            ch.pipeline().addLast(new IdleStateHandler(idle, 0, 0, TimeUnit.MILLISECONDS));
                        }
                        ch.pipeline().addLast(new JsonObjectDecoder(options.maxFrameBytes()), new JsonRpcCodec(),
                                new RpcHandler(pending, n -> listeners.forEach(l -> l.accept(n)), options.callTimeout()));
                    }
                });
    }

    /**
     * Connects to {@code endpoint}, waiting at most the connect timeout for the first connection.
     *
     * @throws OvsdbException DISCONNECTED if ovsdb-server cannot be reached
     */
    public static OvsdbClient connect(OvsdbEndpoint endpoint, Options options) {
        OvsdbClient client = new OvsdbClient(endpoint, options);
        client.attempt(true);
        try {
            client.connection().get(options.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
            return client;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            client.close();
            throw new OvsdbException(OvsdbException.Kind.DISCONNECTED, "interrupted connecting to " + endpoint, e);
        } catch (ExecutionException | CompletionException | TimeoutException e) {
            client.close();
            Throwable cause = e instanceof TimeoutException ? null : unwrap(e);
            throw new OvsdbException(OvsdbException.Kind.DISCONNECTED, "cannot connect to ovsdb-server at "
                    + endpoint + ": " + (cause == null ? "no connection within "
                    + options.connectTimeout().toMillis() + " ms" : cause.getMessage()), cause);
        }
    }

    private CompletableFuture<Channel> connection() {
        synchronized (lock) {
            return connection;
        }
    }

    private Channel currentChannel() {
        CompletableFuture<Channel> c = connection();
        return c.isDone() && !c.isCompletedExceptionally() ? c.join() : null;
    }

    private void attempt(boolean first) {
        if (closed) {
            return;
        }
        bootstrap.connect(endpoint.resolved()).addListener(f -> {
            var cf = (io.netty.channel.ChannelFuture) f;
            if (cf.isSuccess()) {
                Channel ch = cf.channel();
                synchronized (lock) {
                    backoff = options.backoffMin();
                    connection.complete(ch);
                }
                ch.closeFuture().addListener(c -> disconnected(ch));
            } else if (first) {
                // Nothing to reconnect to yet: the caller of connect() hears about it now.
                connection().completeExceptionally(cf.cause());
            } else {
                Duration delay;
                synchronized (lock) {
                    delay = backoff;
                    backoff = backoff.multipliedBy(2).compareTo(options.backoffMax()) > 0
                            ? options.backoffMax() : backoff.multipliedBy(2);
                }
                LOG.log(Level.FINE, "connect to {0} failed, retrying in {1} ms",
                        new Object[]{endpoint, delay.toMillis()});
                if (!closed) {
                    group.schedule(() -> attempt(false), delay.toMillis(), TimeUnit.MILLISECONDS);
                }
            }
        });
    }

    private void disconnected(Channel ch) {
        if (closed) {
            return;
        }
        LOG.log(Level.INFO, "connection to ovsdb-server at {0} lost; reconnecting", endpoint);
        synchronized (lock) {
            if (currentChannel() == ch) {
                connection = new CompletableFuture<>();
            }
        }
        group.schedule(() -> attempt(false), options.backoffMin().toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Calls {@code method(params)}; the future fails with {@link OvsdbException} within {@code timeout}. */
    public CompletableFuture<JsonNode> call(String method, ArrayNode params, Duration timeout) {
        if (closed) {
            return CompletableFuture.failedFuture(new OvsdbException(OvsdbException.Kind.DISCONNECTED,
                    "OVSDB client for " + endpoint + " is closed"));
        }
        long start = System.nanoTime();
        CompletableFuture<Channel> waitForConnection = connection().copy()
                .orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS);
        return waitForConnection.handle((ch, e) -> {
            if (e != null) {
                throw new OvsdbException(OvsdbException.Kind.DISCONNECTED, "not connected to ovsdb-server at "
                        + endpoint + " within " + timeout.toMillis() + " ms (reconnecting)", unwrap(e));
            }
            return ch;
        }).thenCompose(ch -> {
            Duration left = timeout.minusNanos(System.nanoTime() - start);
            return pending.call(ch, method, params, left.isNegative() ? Duration.ofMillis(1) : left, timeout);
        });
    }

    /** RFC 7047 {@code transact}: the result array, or an ERROR naming the first failed operation. */
    public CompletableFuture<ArrayNode> transact(String db, List<ObjectNode> ops, Duration timeout) {
        ArrayNode params = JsonNodeFactory.instance.arrayNode().add(db);
        ops.forEach(params::add);
        return call("transact", params, timeout).thenApply(result -> {
            if (!(result instanceof ArrayNode rows)) {
                throw new OvsdbException(OvsdbException.Kind.PROTOCOL, "transact result is not an array: " + result);
            }
            for (int i = 0; i < rows.size(); i++) {
                JsonNode row = rows.get(i);
                if (row != null && row.has("error")) {
                    String op = i < ops.size() ? ops.get(i).path("op").asText() + " on "
                            + ops.get(i).path("table").asText() : "commit";
                    throw new TransactionError(i, row.path("error").asText(), row.path("details").asText(""), op);
                }
            }
            return rows;
        });
    }

    public CompletableFuture<ArrayNode> transact(String db, List<ObjectNode> ops) {
        return transact(db, ops, options.callTimeout());
    }

    /** RFC 7047 {@code echo}: proves the server is alive. */
    public CompletableFuture<JsonNode> echo() {
        return call("echo", JsonNodeFactory.instance.arrayNode().add("berth"), options.callTimeout());
    }

    /** RFC 7047 {@code monitor}: the initial rows; later {@code update} notifications go to the listeners. */
    public CompletableFuture<JsonNode> monitor(String db, String monitorId, ObjectNode requests) {
        return call("monitor", JsonNodeFactory.instance.arrayNode().add(db).add(monitorId).add(requests),
                options.callTimeout());
    }

    public CompletableFuture<JsonNode> monitorCancel(String monitorId) {
        return call("monitor_cancel", JsonNodeFactory.instance.arrayNode().add(monitorId), options.callTimeout());
    }

    /** Receives every notification ({@code update} of a monitor) on the client's event loop; must not block. */
    public void addListener(Consumer<JsonRpcMessage.Notification> listener) {
        listeners.add(listener);
    }

    public Options options() {
        return options;
    }

    public OvsdbEndpoint endpoint() {
        return endpoint;
    }

    /** Whether a connection is up now. */
    public boolean isConnected() {
        Channel ch = currentChannel();
        return ch != null && ch.isActive();
    }

    /** Calls still waiting for an answer (for leak checks). */
    int pendingCalls() {
        return pending.size();
    }

    /** Closes the current connection as if the server had dropped it (tests the reconnect path). */
    void dropConnection() {
        Channel ch = currentChannel();
        if (ch != null) {
            ch.close().syncUninterruptibly();
        }
    }

    /** Waits for the answer of a call, unwrapping the {@link OvsdbException} it failed with. */
    public static <T> T await(CompletableFuture<T> future) {
        try {
            return future.join();
        } catch (CompletionException e) {
            Throwable cause = unwrap(e);
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new OvsdbException(OvsdbException.Kind.PROTOCOL, String.valueOf(cause.getMessage()), cause);
        }
    }

    private static Throwable unwrap(Throwable e) {
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    @Override
    public void close() {
        closed = true;
        Channel ch = currentChannel();
        if (ch != null) {
            ch.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2, TimeUnit.SECONDS);
    }

    /** One operation of a transaction failed; {@code index} is its position (past the ops: the commit). */
    public static final class TransactionError extends OvsdbException {
        private final int index;
        private final String error;

        TransactionError(int index, String error, String details, String op) {
            super(Kind.ERROR, "ovsdb transaction failed at operation " + index + " (" + op + "): " + error
                    + (details.isEmpty() ? "" : ": " + details));
            this.index = index;
            this.error = error;
        }

        public int index() {
            return index;
        }

        public String error() {
            return error;
        }
    }
}
