package org.berth.driver.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class GuestConfigTest {
    static final String KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOAi8DCad64FWUWjXvAzu5GNWRhC6u6RluroDikfPca1 test@berth";

    private static GuestConfig with(String hostname, Map<String, String> meta, Map<String, String> keys,
                                    String userData) {
        return new GuestConfig(hostname, meta, keys, Optional.ofNullable(userData), Optional.empty(), Optional.empty(),
                GuestConfig.DEFAULT_ZONE);
    }

    private static String refused(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    @Test
    void hostnameFromTheNameAsNovaSanitizesIt() {
        assertEquals("web-1", GuestConfig.hostnameFor("Web_1"));
        assertEquals("a-b-c", GuestConfig.hostnameFor("a.b c"));
        assertEquals("x", GuestConfig.hostnameFor("--x--"));
        assertEquals("instance", GuestConfig.hostnameFor("@@@"));
        assertEquals(63, GuestConfig.hostnameFor("h".repeat(300)).length());
        assertEquals("web-1", InstanceSpec.of(java.util.UUID.randomUUID(), "Web_1",
                new Flavor("f", 1, 64, 0, 0, 0), java.util.UUID.randomUUID().toString()).guest().hostname());
    }

    @Test
    void refusalsNameTheFieldAndTheRule() {
        assertTrue(refused(() -> with("web_1", Map.of(), Map.of(), null)).startsWith("instance.hostname: "));
        assertTrue(refused(() -> with("h".repeat(64), Map.of(), Map.of(), null)).contains("1-63"));
        assertTrue(refused(() -> with("-web", Map.of(), Map.of(), null)).contains("RFC 1123"));
        var many = new HashMap<String, String>();
        for (int i = 0; i < 129; i++) {
            many.put("k" + i, "v");
        }
        assertTrue(refused(() -> with("h", many, Map.of(), null)).startsWith("instance.metadata: 129 entries"));
        assertTrue(refused(() -> with("h", Map.of("k", "v".repeat(256)), Map.of(), null))
                .startsWith("instance.metadata.k: "));
        assertTrue(refused(() -> with("h", Map.of("a/b", "v"), Map.of(), null)).startsWith("instance.metadata: key"));
        assertTrue(refused(() -> with("h", Map.of(), Map.of("k", "ssh-ed25519"), null))
                .startsWith("instance.public_keys.k: "));
        assertTrue(refused(() -> with("h", Map.of(), Map.of("k", "ssh-ed25519 !!!"), null)).contains("base64"));
        assertTrue(refused(() -> with("h", Map.of(), Map.of("k", KEY.replace("ssh-ed25519", "ssh-rsa")), null))
                .contains("does not encode a ssh-rsa key"));
        assertTrue(refused(() -> with("h", Map.of(), Map.of("bad/name", KEY), null)).contains("name"));
        assertTrue(refused(() -> with("h", Map.of(), Map.of(), "not base64!")).startsWith("instance.user_data: "));
        String big = Base64.getEncoder().encodeToString(new byte[GuestConfig.MAX_USER_DATA + 1]);
        assertTrue(refused(() -> with("h", Map.of(), Map.of(), big)).contains("at most 65535"));
    }

    @Test
    void acceptsWhatNovaAccepts() {
        String ud = Base64.getMimeEncoder().encodeToString("#cloud-config\nruncmd: [echo hi]\n".getBytes(StandardCharsets.UTF_8));
        GuestConfig g = with("web-1", Map.of("role", "web server", "a:b.c-d_e", ""), Map.of("my key", " " + KEY + " "), ud);
        assertEquals(KEY, g.publicKeys().get("my key"), "the key is kept without surrounding spaces");
        assertArrayEquals("#cloud-config\nruncmd: [echo hi]\n".getBytes(StandardCharsets.UTF_8), g.userDataBytes().orElseThrow());
        assertTrue(g.configDriveOr(true));
        assertEquals(Base64.getEncoder().encodeToString(new byte[GuestConfig.MAX_USER_DATA]).length(),
                with("h", Map.of(), Map.of(), Base64.getEncoder().encodeToString(new byte[GuestConfig.MAX_USER_DATA]))
                        .userData().orElseThrow().length());
    }
}
