package org.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.berth.agent.TestAgent.Reply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** POST /v1/images with the image as a streamed octet-stream body. */
class ImageUploadTest {
    private static final long MAX = 8L << 20;
    private static TestAgent t;
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        t = new TestAgent("drivers: {fake: {}}\nmax_image_upload_bytes: " + MAX + "\n");
    }

    @AfterAll
    static void stop() throws Exception {
        t.close();
    }

    @AfterEach
    void noTempFileLeft() throws Exception {
        awaitNoPartFiles();
    }

    static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private static HttpResponse<String> upload(String query, HttpRequest.BodyPublisher body, boolean expectContinue)
            throws Exception {
        return upload(t, query, body, expectContinue);
    }

    private static HttpResponse<String> upload(TestAgent agent, String query, HttpRequest.BodyPublisher body,
                                               boolean expectContinue) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agent.agent.port() + "/v1/images?" + query))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + agent.token())
                .header("Content-Type", "application/octet-stream").expectContinue(expectContinue).POST(body).build();
        return HTTP.send(req, HttpResponse.BodyHandlers.ofString());
    }

    private static List<Path> partFiles() throws IOException {
        return partFiles(t);
    }

    private static List<Path> partFiles(TestAgent agent) throws IOException {
        try (Stream<Path> s = Files.list(agent.dir.resolve("state/images"))) {
            return s.filter(p -> p.getFileName().toString().endsWith(".part")).toList();
        }
    }

    /** The writer thread removes the temp file just after the answer or the disconnect: poll, bounded. */
    private static void awaitNoPartFiles() throws Exception {
        awaitNoPartFiles(t);
    }

    private static void awaitNoPartFiles(TestAgent agent) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!partFiles(agent).isEmpty()) {
            if (System.nanoTime() > deadline) {
                fail("temp files left in the image dir: " + partFiles(agent));
            }
            Thread.sleep(20);
        }
    }

    private static int imageCount() throws Exception {
        return t.call("GET", "/v1/images", null).json().get("images").size();
    }

    @Test
    void aStreamedImageIsStoredWithItsChecksumAndCanBeDeleted() throws Exception {
        byte[] image = bytes(6 << 20, 1); // several MiB: many chunks, reading pauses and resumes
        String sha = sha256(image);
        HttpResponse<String> r = upload("name=streamed&disk_format=raw&container_format=bare&sha256=" + sha,
                HttpRequest.BodyPublishers.ofByteArray(image), false);
        assertEquals(201, r.statusCode(), r.body());
        var json = TestAgent.JSON.readTree(r.body()).get("image");
        String id = json.get("id").asText();
        assertEquals(sha, json.get("sha256").asText());
        assertEquals(image.length, json.get("size").asLong());
        assertEquals("/v1/images/" + id, r.headers().firstValue("location").orElseThrow());
        Path stored = t.dir.resolve("state/images/" + id + ".img");
        assertEquals(sha, sha256(Files.readAllBytes(stored)), "the bytes on disk are the bytes sent");
        assertEquals("streamed", t.call("GET", "/v1/images/" + id, null).json().at("/image/name").asText());
        assertEquals(204, t.call("DELETE", "/v1/images/" + id, null).status());
        assertTrue(Files.notExists(stored));
    }

    @Test
    void aChecksumMismatchIs400NamingSha256AndLeavesNothing() throws Exception {
        int before = imageCount();
        byte[] image = bytes(300_000, 2);
        HttpResponse<String> r = upload("name=bad&disk_format=raw&container_format=bare&sha256=" + "0".repeat(64),
                HttpRequest.BodyPublishers.ofByteArray(image), false);
        assertEquals(400, r.statusCode(), r.body());
        var err = TestAgent.JSON.readTree(r.body()).get("error");
        assertEquals("sha256", err.get("field").asText());
        assertEquals("mismatch", err.get("rule").asText());
        assertTrue(err.get("message").asText().contains(sha256(image)), err.toString());
        awaitNoPartFiles();
        assertEquals(before, imageCount());
    }

    @Test
    void aDeclaredLengthOverTheLimitIs413BeforeTheBodyIsSent() throws Exception {
        int before = imageCount();
        byte[] image = bytes((int) MAX + 1, 3);
        HttpResponse<String> r = upload("name=big&disk_format=raw&container_format=bare&sha256=" + sha256(image),
                HttpRequest.BodyPublishers.ofByteArray(image), true);
        assertEquals(413, r.statusCode(), r.body());
        assertEquals("max_size", TestAgent.JSON.readTree(r.body()).at("/error/rule").asText());
        assertEquals("body", TestAgent.JSON.readTree(r.body()).at("/error/field").asText());
        assertEquals(before, imageCount());
    }

    @Test
    void aChunkedBodyThatGrowsOverTheLimitIs413AndItsTempFileIsRemoved() throws Exception {
        try (Socket s = new Socket("127.0.0.1", t.agent.port())) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            chunkedHead(out, "name=growing&disk_format=raw&container_format=bare&sha256=" + "a".repeat(64),
                    "Authorization: Bearer " + t.token() + "\r\n");
            byte[] chunk = bytes(1 << 20, 4);
            for (long sent = 0; sent <= MAX; sent += chunk.length) {
                writeChunk(out, chunk);
            }
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String answer = readAll(s.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 413"), answer);
            assertTrue(answer.contains("max_image_upload_bytes"), answer);
        }
    }

    @Test
    void aClientThatDisconnectsMidBodyLeavesNoTempFile() throws Exception {
        int before = imageCount();
        try (Socket s = new Socket("127.0.0.1", t.agent.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/images?name=cut&disk_format=raw&container_format=bare&sha256=" + "b".repeat(64)
                    + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + t.token()
                    + "\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(bytes(200_000, 5));
            out.flush();
            // the temp file exists while the upload is open
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (partFiles().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(1, partFiles().size(), "an open upload has one temp file in the image dir");
        }
        awaitNoPartFiles();
        assertEquals(before, imageCount());
    }

    @Test
    void theQueryAndTheTokenAreCheckedBeforeTheBody() throws Exception {
        byte[] image = bytes(1000, 6);
        String sha = sha256(image);
        record Case(String query, String field) {
        }
        for (Case c : List.of(new Case("disk_format=raw&container_format=bare&sha256=" + sha, "name"),
                new Case("name=x&disk_format=vmdk&container_format=bare&sha256=" + sha, "disk_format"),
                new Case("name=x&disk_format=raw&container_format=bare&sha256=XYZ", "sha256"),
                new Case("name=../x&disk_format=raw&container_format=bare&sha256=" + sha, "name"),
                new Case("name=x&disk_format=raw&container_format=bare&sha256=" + sha + "&file=/etc/passwd", "file"))) {
            HttpResponse<String> r = upload(c.query(), HttpRequest.BodyPublishers.ofByteArray(image), false);
            assertEquals(400, r.statusCode(), c + ": " + r.body());
            assertEquals(c.field(), TestAgent.JSON.readTree(r.body()).at("/error/field").asText(), c.toString());
        }
        HttpRequest noToken = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + t.agent.port()
                        + "/v1/images?name=x&disk_format=raw&container_format=bare&sha256=" + sha))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(image)).build();
        assertEquals(401, HTTP.send(noToken, HttpResponse.BodyHandlers.ofString()).statusCode());
        // the JSON form on the same path still goes to the import-from-file route
        Reply json = t.call("POST", "/v1/images", "{\"name\": \"x\", \"disk_format\": \"raw\", "
                + "\"container_format\": \"bare\", \"file\": \"../../etc/passwd\", \"sha256\": \"" + sha + "\"}");
        assertEquals(400, json.status(), json.body());
        assertEquals("file", json.json().at("/error/field").asText());
    }

    @Test
    void aRefusedBodyIsDroppedOnlyUpToALimitThenTheConnectionCloses() throws Exception {
        try (Socket s = new Socket("127.0.0.1", t.agent.port())) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            chunkedHead(out, "name=x&disk_format=raw&container_format=bare&sha256=" + "c".repeat(64), ""); // no token
            byte[] chunk = new byte[1 << 20];
            long sent = 0;
            try {
                for (; sent < 256L << 20; sent += chunk.length) {
                    writeChunk(out, chunk);
                }
                fail("the agent read 256 MiB of a body it refused");
            } catch (java.net.SocketException closed) {
                assertTrue(sent < 128L << 20, "closed after " + (sent >> 20) + " MiB");
            }
        }
    }

    @Test
    void uploadsBeyondTheConcurrencyLimitAre503AndAnIdleOneIs408AndFreesItsSlot() throws Exception {
        try (TestAgent one = new TestAgent("drivers: {fake: {}}\nmax_concurrent_image_uploads: 1\n"
                + "image_upload_idle_timeout: 2s\n")) {
            byte[] image = bytes(4096, 7);
            String query = "name=slot&disk_format=raw&container_format=bare&sha256=" + sha256(image);
            try (Socket s = new Socket("127.0.0.1", one.agent.port())) {
                s.setSoTimeout(30_000);
                OutputStream out = s.getOutputStream();
                out.write(("POST /v1/images?" + query + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + one.token()
                        + "\r\nContent-Type: application/octet-stream\r\nContent-Length: " + image.length + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(image, 0, 100); // then nothing: the upload holds the only slot until it goes idle
                out.flush();
                // The slot is claimed just before the temp file is made: wait for the file, so the second upload
                // cannot overtake the first on a busy machine (it did once, and got the slot: 201 instead of 503).
                long held = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (partFiles(one).isEmpty() && System.nanoTime() < held) {
                    Thread.sleep(10);
                }
                assertEquals(1, partFiles(one).size(), "the first upload never started");
                HttpResponse<String> second = upload(one, query, HttpRequest.BodyPublishers.ofByteArray(image), false);
                assertEquals(503, second.statusCode(), second.body());
                assertEquals("uploads", TestAgent.JSON.readTree(second.body()).at("/error/field").asText());
                assertTrue(second.body().contains("max_concurrent_image_uploads (1)"), second.body());
                long t0 = System.nanoTime();
                String answer = readAll(s.getInputStream());
                assertTrue(answer.startsWith("HTTP/1.1 408"), answer);
                assertTrue(answer.contains("image_upload_idle_timeout"), answer);
                assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(20).toNanos(), "the idle bound is 2 s");
            }
            awaitNoPartFiles(one);
            // the idle upload gave its slot back: the next one goes through
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            HttpResponse<String> third = upload(one, query, HttpRequest.BodyPublishers.ofByteArray(image), false);
            while (third.statusCode() == 503 && System.nanoTime() < deadline) {
                Thread.sleep(50);
                third = upload(one, query, HttpRequest.BodyPublishers.ofByteArray(image), false);
            }
            assertEquals(201, third.statusCode(), third.body());
        }
    }

    private static void chunkedHead(OutputStream out, String query, String headers) throws IOException {
        out.write(("POST /v1/images?" + query + " HTTP/1.1\r\nHost: x\r\n" + headers
                + "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
    }

    private static void writeChunk(OutputStream out, byte[] chunk) throws IOException {
        out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(chunk);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    private static String readAll(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try {
            for (int n; (n = in.read(buf)) > 0; ) {
                b.write(buf, 0, n);
            }
        } catch (java.net.SocketException reset) {
            // the agent closes after answering; what arrived before is the answer
        }
        return b.toString(StandardCharsets.UTF_8);
    }
}
