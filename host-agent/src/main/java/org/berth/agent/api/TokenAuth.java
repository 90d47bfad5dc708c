package org.berth.agent.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The bearer token: generated on first start into {@code <state_dir>/token} with mode 0600, read on later starts.
 * The token itself is never logged.
 */
public final class TokenAuth {
    private final byte[] expected;
    private final Path file;

    private TokenAuth(byte[] expected, Path file) {
        this.expected = expected;
        this.file = file;
    }

    public static TokenAuth loadOrCreate(Path stateDir) {
        Path file = stateDir.resolve("token");
        try {
            if (!Files.exists(file)) {
                byte[] raw = new byte[32];
                new SecureRandom().nextBytes(raw);
                Path tmp = stateDir.resolve("token.tmp");
                Files.deleteIfExists(tmp);
                Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.writeString(tmp, HexFormat.of().formatHex(raw) + "\n");
                Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
            String token = Files.readString(file).trim();
            if (token.length() < 16) {
                throw new IllegalStateException("token file " + file + " holds fewer than 16 characters; delete it to regenerate");
            }
            return new TokenAuth(token.getBytes(StandardCharsets.UTF_8), file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the token file " + file, e);
        }
    }

    public Path file() {
        return file;
    }

    /** Constant-time check of an Authorization header value. */
    boolean accepts(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        byte[] given = authorization.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, expected);
    }
}
