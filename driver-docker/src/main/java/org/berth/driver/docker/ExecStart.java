package org.berth.driver.docker;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.driver.api.DriverException;

/**
 * {@code POST /exec/{id}/start} with {@code Upgrade: tcp}, as the docker CLI does it: the engine answers
 * {@code 101 UPGRADED} and the connection becomes the command's stdin (our writes) and its output (our reads).
 * The exec was created with {@code AttachStdin}, so the engine closes the connection when the command ends.
 */
final class ExecStart {
    /** Response head limit: the engine's is a few hundred bytes; a longer one is not a Docker engine. */
    static final int MAX_HEAD = 16 * 1024;
    private static final Pattern STATUS = Pattern.compile("HTTP/1\\.[01] (\\d{3})[^\r\n]*");
    private static final Pattern CONTENT_LENGTH = Pattern.compile("(?im)^content-length:\\s*(\\d{1,9})\\s*$");
    private static final Pattern MESSAGE = Pattern.compile("\"message\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

    private ExecStart() {
    }

    /** The hijacked connection and the stream bytes that came with the response head ({@code buffer}, flipped). */
    record Hijacked(Wire wire, ByteBuffer buffer) {
    }

    /**
     * Starts exec {@code execId} of instance {@code uuid}; {@code buffer} (any capacity above {@link #MAX_HEAD})
     * becomes the stream's read buffer. The whole handshake is bounded by {@code timeout}.
     */
    static Hijacked start(Engine engine, UUID uuid, String execId, boolean tty, ByteBuffer buffer) {
        DockerSettings settings = engine.settings();
        Duration timeout = engine.callTimeout();
        long deadline = System.nanoTime() + timeout.toNanos();
        Wire wire = null;
        try {
            wire = Wire.open(settings.host(), deadline);
            if (!wire.write(ByteBuffer.wrap(request(settings, execId, tty)), deadline)) {
                throw timedOut(timeout, "the engine did not take the request");
            }
            buffer.clear();
            int headEnd;
            while ((headEnd = headEnd(buffer)) < 0) {
                if (buffer.position() >= MAX_HEAD) {
                    throw failure("a response head longer than " + MAX_HEAD + " bytes");
                }
                int n = wire.read(buffer, deadline);
                if (n < 0) {
                    throw failure("the engine closed the connection before answering");
                }
                if (n == 0 && System.nanoTime() - deadline >= 0) {
                    throw timedOut(timeout, "no answer to exec start");
                }
            }
            String head = new String(buffer.array(), 0, headEnd, StandardCharsets.ISO_8859_1);
            buffer.flip().position(headEnd + 4);
            Matcher status = STATUS.matcher(head.lines().findFirst().orElse(""));
            if (!status.matches()) {
                throw failure("not an HTTP answer: " + printable(head.lines().findFirst().orElse("")));
            }
            int code = Integer.parseInt(status.group(1));
            // 101 is the upgraded stream; an engine that does not upgrade sends the stream after a 200.
            if (code != 101 && code != 200) {
                throw refused(engine, uuid, code, errorBody(wire, head, buffer, deadline));
            }
            Hijacked hijacked = new Hijacked(wire, buffer);
            wire = null;
            return hijacked;
        } catch (IOException e) {
            throw new DriverException.BackendUnavailable(Engine.BACKEND, "exec start: " + e, e);
        } finally {
            if (wire != null) {
                wire.close();
            }
        }
    }

    private static byte[] request(DockerSettings settings, String execId, boolean tty) {
        String body = "{\"Detach\":false,\"Tty\":" + tty + "}";
        URI uri = URI.create(settings.host());
        String host = "tcp".equals(uri.getScheme()) ? uri.getAuthority() : "docker";
        String head = "POST /v" + settings.apiVersion() + "/exec/" + execId + "/start HTTP/1.1\r\n"
                + "Host: " + host + "\r\n"
                + "User-Agent: berth\r\n"
                + "Content-Type: application/json\r\n"
                + "Content-Length: " + body.length() + "\r\n"
                + "Connection: Upgrade\r\n"
                + "Upgrade: tcp\r\n"
                + "\r\n";
        return (head + body).getBytes(StandardCharsets.US_ASCII);
    }

    /** Index of the blank line that ends the head in {@code buffer}'s written part, or -1. */
    private static int headEnd(ByteBuffer buffer) {
        byte[] a = buffer.array();
        for (int i = 0; i + 3 < buffer.position(); i++) {
            if (a[i] == '\r' && a[i + 1] == '\n' && a[i + 2] == '\r' && a[i + 3] == '\n') {
                return i;
            }
        }
        return -1;
    }

    /** The engine's error message: the JSON body's {@code message}, read within the deadline, at most 4 KiB. */
    private static String errorBody(Wire wire, String head, ByteBuffer buffer, long deadline) throws IOException {
        Matcher length = CONTENT_LENGTH.matcher(head);
        int want = length.find() ? Math.min(Integer.parseInt(length.group(1)), 4096) : 0;
        buffer.compact();
        while (buffer.position() < want && wire.read(buffer, deadline) > 0) {
            // reading the rest of a short body
        }
        buffer.flip();
        String body = new String(buffer.array(), 0, Math.min(buffer.limit(), want), StandardCharsets.UTF_8);
        Matcher m = MESSAGE.matcher(body);
        return printable(m.find() ? m.group(1) : body.strip());
    }

    /** 404: the exec (so its container) is gone; 409: the container stopped or paused meanwhile. */
    private static DriverException refused(Engine engine, UUID uuid, int code, String message) {
        return switch (code) {
            case 404 -> new DriverException.InstanceNotFound(uuid);
            case 409 -> new DriverException.InvalidInstanceState(uuid, "exec", engine.stateNow(uuid));
            default -> failure("HTTP " + code + ": " + message);
        };
    }

    private static DriverException failure(String detail) {
        return new DriverException.BackendFailure(Engine.BACKEND, "exec start", detail, null);
    }

    private static DriverException timedOut(Duration timeout, String detail) {
        return new DriverException.OperationTimedOut("docker exec start", timeout, detail);
    }

    private static String printable(String s) {
        String p = s.replaceAll("\\p{Cntrl}", "?");
        return p.length() > 512 ? p.substring(0, 512) + "..." : p;
    }
}
