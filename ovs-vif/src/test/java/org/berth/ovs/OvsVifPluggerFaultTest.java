package org.berth.ovs;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.util.ReferenceCountUtil;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.VifSpec;
import org.berth.ovs.ovsdb.FakeOvsdbServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The plugger's error kinds when ovsdb-server is stuck or absent: the driver-facing side of the client's faults. */
class OvsVifPluggerFaultTest {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private static OvsVifConfig config(String endpoint) {
        return new OvsVifConfig(endpoint, OvsVifConfig.Datapath.NETDEV, false, Duration.ofMillis(300),
                Duration.ofSeconds(1), Duration.ofSeconds(5));
    }

    @Test
    void unreachableOvsdbIsBackendUnavailable() {
        var e = assertThrows(DriverException.BackendUnavailable.class,
                () -> OvsVifPlugger.connect(config("tcp:127.0.0.1:1")));
        assertEquals("ovsdb-server", e.backend());
        assertTrue(e.getMessage().startsWith("ovsdb-server is unavailable: cannot connect"), e.getMessage());
    }

    @Test
    void silentOvsdbIsATimeoutAndNothingIsCreated() throws Exception {
        // A peer that accepts and reads but never answers: a hung ovsdb-server.
        Channel server = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ReferenceCountUtil.release(msg);
                            }
                        });
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        VifSpec vif = VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:00:00:01");
        try (OvsVifPlugger plugger = OvsVifPlugger.connect(config("tcp:127.0.0.1:" + port))) {
            long start = System.nanoTime();
            var e = assertThrows(DriverException.OperationTimedOut.class, () -> plugger.plugTap(UUID.randomUUID(), vif));
            assertTrue((System.nanoTime() - start) / 1_000_000 < 1500, "took too long");
            assertEquals(Duration.ofMillis(300), e.timeout());
            assertTrue(e.getMessage().contains("ovsdb-server did not answer transact within 300 ms"), e.getMessage());
            assertFalse(Files.exists(Path.of("/sys/class/net", vif.devName())), "tap created although OVS is stuck");
            assertThrows(DriverException.OperationTimedOut.class, () -> plugger.unplug(UUID.randomUUID(), vif));
            long waited = System.nanoTime();
            var attach = assertThrows(DriverException.OperationTimedOut.class,
                    () -> plugger.awaitAttached(UUID.randomUUID(), vif));
            assertTrue((System.nanoTime() - waited) / 1_000_000 < 3000, "awaitAttached took too long");
            assertTrue(attach.getMessage().contains(vif.portId()), attach.getMessage());
            assertEquals(0, org.berth.ovs.ovsdb.OvsdbTestAccess.pendingCalls(plugger.client()));
        } finally {
            server.close().sync();
        }
    }

    @Test
    void disconnectAfterTheTapWasCreatedRollsTheTapBack() throws Exception {
        // select -> no rows; the first transaction with an insert (add port) -> connection dropped.
        AtomicInteger inserts = new AtomicInteger();
        try (FakeOvsdbServer server = FakeOvsdbServer.tcp(r -> {
            if (!r.method().equals("transact")) {
                return FakeOvsdbServer.healthy(r);
            }
            boolean insert = r.params().toString().contains("\"op\":\"insert\"");
            if (insert && inserts.getAndIncrement() == 0) {
                return new FakeOvsdbServer.Fault.Disconnect();
            }
            var results = JsonNodeFactory.instance.arrayNode();
            for (int i = 1; i < r.params().size(); i++) {
                results.add(JsonNodeFactory.instance.objectNode().set("rows", JsonNodeFactory.instance.arrayNode()));
            }
            return new FakeOvsdbServer.Fault.Reply(results);
        }); OvsVifPlugger plugger = OvsVifPlugger.connect(config(server.endpoint()))) {
            VifSpec vif = VifSpec.of(UUID.randomUUID().toString(), "fa:16:3e:00:00:02");
            var e = assertThrows(DriverException.BackendUnavailable.class, () -> plugger.plugTap(UUID.randomUUID(), vif));
            assertTrue(e.getMessage().contains("connection to ovsdb-server closed"), e.getMessage());
            assertFalse(Files.exists(Path.of("/sys/class/net", vif.devName())), "tap not rolled back");
            assertEquals(1, inserts.get());
            assertEquals(0, org.berth.ovs.ovsdb.OvsdbTestAccess.pendingCalls(plugger.client()));
        }
    }
}
