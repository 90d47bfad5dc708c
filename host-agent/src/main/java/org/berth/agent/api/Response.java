package org.berth.agent.api;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * What a route answers; the handler adds the request id and Content-Length. {@code direct}, when not null, holds the
 * body off-heap for an answer given many times (see {@link #shared()}).
 */
record Response(int status, String contentType, byte[] body, Map<String, String> headers, ByteBuf direct) {
    static final String JSON = "application/json";

    Response(int status, String contentType, byte[] body, Map<String, String> headers) {
        this(status, contentType, body, headers, null);
    }

    /**
     * The same answer with its body copied once into a direct buffer that every send duplicates: the socket write
     * then needs no copy from the heap. The memory is the JDK's (freed by the GC with the last reference), so
     * replacing a shared answer while sends of it are in flight is safe.
     */
    Response shared() {
        ByteBuffer off = ByteBuffer.allocateDirect(body.length).put(body).flip();
        return new Response(status, contentType, body, headers, Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(off)));
    }

    /** The body to hand to one HTTP response (a fresh view: each send has its own reader index). */
    ByteBuf content() {
        return direct != null ? direct.duplicate() : Unpooled.wrappedBuffer(body);
    }

    static Response json(int status, Object tree) {
        return new Response(status, JSON, Views.bytes(tree), Map.of());
    }

    static Response text(int status, String contentType, String text) {
        return new Response(status, contentType, text.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    static Response noContent() {
        return new Response(204, null, new byte[0], Map.of());
    }

    Response withHeader(String name, String value) {
        var h = new java.util.LinkedHashMap<>(headers);
        h.put(name, value);
        return new Response(status, contentType, body, Map.copyOf(h), direct);
    }
}
