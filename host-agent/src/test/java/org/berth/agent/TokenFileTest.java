package org.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.logging.Level;
import org.berth.agent.api.TokenAuth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The token file's mode: a group- or world-readable one is made 0600, with one WARN naming it. */
class TokenFileTest {
    @TempDir
    Path dir;

    @Test
    void aReadableTokenFileIsMade0600WithOneWarning() throws Exception {
        Path file = Files.writeString(dir.resolve("token"), "0123456789abcdef0123456789abcdef\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        try (LogCapture log = new LogCapture()) {
            TokenAuth.loadOrCreate(dir);
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
            assertEquals(1, log.lines(Level.WARNING, file.toString()).size(), log.toString());
            TokenAuth.loadOrCreate(dir); // already 0600: no second warning
            assertEquals(1, log.lines(Level.WARNING, "token file").size(), log.toString());
        }
    }
}
