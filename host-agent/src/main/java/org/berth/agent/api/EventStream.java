package org.berth.agent.api;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.berth.agent.store.StoredEvent;

/**
 * GET /v1/events: Server-Sent Events of every stored instance event (tasks, lifecycle, reconcile). A subscriber
 * that does not keep up (its channel stops being writable) is disconnected rather than buffered without bound.
 */
public final class EventStream {
    private static final int MAX_SUBSCRIBERS = 64;
    private final Set<Channel> subscribers = ConcurrentHashMap.newKeySet();

    boolean subscribe(Channel ch, String requestId) {
        if (subscribers.size() >= MAX_SUBSCRIBERS) {
            return false;
        }
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream")
                .set(HttpHeaderNames.CACHE_CONTROL, "no-cache")
                .set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED)
                .set(ApiHandler.REQUEST_ID, requestId);
        ch.writeAndFlush(head);
        ch.writeAndFlush(new DefaultHttpContent(Unpooled.copiedBuffer(": berth events\n\n", StandardCharsets.UTF_8)));
        subscribers.add(ch);
        ch.closeFuture().addListener(f -> subscribers.remove(ch));
        return true;
    }

    /**
     * Ends every open stream (the token was rotated: a stream opened with the old token must not go on): an SSE
     * comment, the end of the chunked body, then the connection is closed.
     */
    void closeAll() {
        for (Channel ch : subscribers) {
            end(ch);
        }
    }

    void end(Channel ch) {
        subscribers.remove(ch);
        ch.write(new DefaultHttpContent(Unpooled.copiedBuffer(": token rotated, stream closed\n\n",
                StandardCharsets.UTF_8)));
        ch.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(ChannelFutureListener.CLOSE);
    }

    /** Called for every stored event; never blocks. */
    public void publish(StoredEvent e) {
        if (subscribers.isEmpty()) {
            return;
        }
        String frame = "id: " + e.id() + "\nevent: " + e.kind() + "\ndata: " + Views.event(e) + "\n\n";
        for (Channel ch : subscribers) {
            if (!ch.isWritable()) {
                subscribers.remove(ch);
                ch.close();
                continue;
            }
            ch.writeAndFlush(new DefaultHttpContent(Unpooled.copiedBuffer(frame, StandardCharsets.UTF_8)))
                    .addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        }
    }
}
