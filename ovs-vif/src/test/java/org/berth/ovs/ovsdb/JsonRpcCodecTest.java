package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.json.JsonObjectDecoder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Framing and JSON-RPC decoding on an {@link EmbeddedChannel}, the bytes arriving in arbitrary pieces. */
class JsonRpcCodecTest {
    private final EmbeddedChannel channel = new EmbeddedChannel(new JsonObjectDecoder(256), new JsonRpcCodec());

    @AfterEach
    void close() {
        channel.finishAndReleaseAll();
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    @Test
    void responseSplitAcrossReadsIsOneMessage() {
        String json = "{\"id\":7,\"result\":[{\"rows\":[{\"name\":\"br-{int}\"}]}],\"error\":null}";
        assertFalse(channel.writeInbound(bytes(json.substring(0, 5))));
        assertFalse(channel.writeInbound(bytes(json.substring(5, 30))));
        assertTrue(channel.writeInbound(bytes(json.substring(30))));
        var response = assertInstanceOf(JsonRpcMessage.Response.class, channel.readInbound());
        assertEquals(7, response.id().asInt());
        assertEquals("br-{int}", response.result().get(0).get("rows").get(0).get("name").asText());
        assertFalse(response.isError());
        assertNull(channel.readInbound());
    }

    @Test
    void twoMessagesInOneReadAreTwoMessages() {
        assertTrue(channel.writeInbound(bytes(
                "{\"id\":\"echo\",\"method\":\"echo\",\"params\":[]} {\"id\":null,\"method\":\"update\",\"params\":[\"m\",{}]}")));
        var echo = assertInstanceOf(JsonRpcMessage.Request.class, channel.readInbound());
        assertEquals("echo", echo.method());
        assertEquals("echo", echo.id().asText());
        var update = assertInstanceOf(JsonRpcMessage.Notification.class, channel.readInbound());
        assertEquals("update", update.method());
        assertEquals("m", update.params().get(0).asText());
    }

    @Test
    void errorResponseIsAnError() {
        channel.writeInbound(bytes("{\"id\":1,\"result\":null,\"error\":\"unknown method\"}"));
        var response = assertInstanceOf(JsonRpcMessage.Response.class, channel.readInbound());
        assertTrue(response.isError());
        assertEquals("unknown method", response.error().asText());
    }

    @Test
    void requestEncodesAsRfc7047Json() {
        var params = JsonNodeFactory.instance.arrayNode().add("Open_vSwitch");
        assertTrue(channel.writeOutbound(new JsonRpcMessage.Request(LongNode.valueOf(3), "transact", params)));
        ByteBuf out = channel.readOutbound();
        try {
            assertEquals("{\"method\":\"transact\",\"params\":[\"Open_vSwitch\"],\"id\":3}",
                    out.toString(StandardCharsets.UTF_8));
        } finally {
            out.release();
        }
    }

    @Test
    void malformedJsonIsACorruptedFrame() {
        var e = assertThrows(CorruptedFrameException.class,
                () -> channel.writeInbound(bytes("{\"id\":1,\"result\":[oops]}")));
        assertTrue(e.getMessage().startsWith("malformed JSON from ovsdb-server"), e.getMessage());
    }

    @Test
    void objectThatIsNotJsonRpcIsACorruptedFrame() {
        var e = assertThrows(CorruptedFrameException.class, () -> channel.writeInbound(bytes("{\"hello\":1}")));
        assertEquals("JSON-RPC message is neither a request nor a response", e.getMessage());
    }

    @Test
    void frameOverTheLimitIsRejectedBeforeItEnds() {
        String start = "{\"id\":1,\"result\":\"" + "x".repeat(300);
        assertThrows(TooLongFrameException.class, () -> channel.writeInbound(bytes(start)));
    }
}
