package org.berth.ovs.ovsdb;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.MessageToMessageCodec;

import java.io.IOException;
import java.util.List;

/**
 * Turns one framed JSON object (from {@link io.netty.handler.codec.json.JsonObjectDecoder}) into a
 * {@link JsonRpcMessage}, and messages back into bytes. Anything that is not a JSON-RPC object is a
 * {@link CorruptedFrameException}: the connection is no longer trustworthy.
 */
public final class JsonRpcCodec extends MessageToMessageCodec<ByteBuf, JsonRpcMessage> {
    static final ObjectMapper MAPPER = new ObjectMapper();

    @Override
    protected void encode(ChannelHandlerContext ctx, JsonRpcMessage msg, List<Object> out) throws IOException {
        ObjectNode node = JsonNodeFactory.instance.objectNode();
        switch (msg) {
            case JsonRpcMessage.Request r -> {
                node.put("method", r.method());
                node.set("params", r.params());
                node.set("id", r.id());
            }
            case JsonRpcMessage.Notification n -> {
                node.put("method", n.method());
                node.set("params", n.params());
                node.putNull("id");
            }
            case JsonRpcMessage.Response r -> {
                node.set("result", r.result() == null ? JsonNodeFactory.instance.nullNode() : r.result());
                node.set("error", r.error() == null ? JsonNodeFactory.instance.nullNode() : r.error());
                node.set("id", r.id());
            }
        }
        ByteBuf buf = ctx.alloc().buffer();
        try (ByteBufOutputStream os = new ByteBufOutputStream(buf)) {
            MAPPER.writeValue((java.io.OutputStream) os, node);
        } catch (IOException | RuntimeException e) {
            buf.release();
            throw e;
        }
        out.add(buf);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf frame, List<Object> out) {
        out.add(decode(frame));
    }

    static JsonRpcMessage decode(ByteBuf frame) {
        JsonNode node;
        try (ByteBufInputStream in = new ByteBufInputStream(frame.retainedDuplicate(), true)) {
            node = MAPPER.readTree((java.io.InputStream) in);
        } catch (JsonProcessingException e) {
            throw new CorruptedFrameException("malformed JSON from ovsdb-server: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new CorruptedFrameException("unreadable frame: " + e.getMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new CorruptedFrameException("JSON-RPC message is not an object");
        }
        JsonNode id = node.get("id");
        JsonNode method = node.get("method");
        if (method != null && !method.isNull()) {
            if (!method.isTextual()) {
                throw new CorruptedFrameException("JSON-RPC method is not a string");
            }
            JsonNode params = node.get("params");
            ArrayNode args = params instanceof ArrayNode a ? a : JsonNodeFactory.instance.arrayNode();
            if (id == null || id.isNull()) {
                return new JsonRpcMessage.Notification(method.asText(), args);
            }
            return new JsonRpcMessage.Request(id, method.asText(), args);
        }
        if (id == null || !node.has("result") && !node.has("error")) {
            throw new CorruptedFrameException("JSON-RPC message is neither a request nor a response");
        }
        return new JsonRpcMessage.Response(id, node.get("result"), node.get("error"));
    }
}
