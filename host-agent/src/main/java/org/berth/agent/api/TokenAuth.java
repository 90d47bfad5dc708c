package org.berth.agent.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The bearer token: generated on first start into {@code <state_dir>/token} with mode 0600, read on later starts,
 * replaced by {@link #rotate}. The token itself is never logged.
 */
public final class TokenAuth {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final System.Logger LOG = System.getLogger(TokenAuth.class.getName());
    /** The token accepted now and how many rotations made it (read together: one volatile). */
    private record Current(byte[] token, long generation) {
    }

    private volatile Current current;
    private final Path file;
    private final java.util.List<Runnable> onRotate = new java.util.concurrent.CopyOnWriteArrayList<>();

    private TokenAuth(byte[] expected, Path file) {
        this.current = new Current(expected, 0);
        this.file = file;
    }

    /** Runs {@code r} after each rotation, once the new token is the only one accepted. */
    void onRotate(Runnable r) {
        onRotate.add(r);
    }

    public static TokenAuth loadOrCreate(Path stateDir) {
        Path file = stateDir.resolve("token");
        try {
            if (!Files.exists(file)) {
                write(file, newToken());
            } else {
                restrict(file);
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

    /** An existing token file that its group or others may read is made 0600, with one WARN naming it. */
    private static void restrict(Path file) throws IOException {
        java.util.Set<PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(file);
        } catch (UnsupportedOperationException e) {
            return; // not a POSIX file system
        }
        java.util.Set<PosixFilePermission> open = java.util.EnumSet.noneOf(PosixFilePermission.class);
        open.addAll(perms);
        open.retainAll(java.util.EnumSet.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE,
                PosixFilePermission.OTHERS_EXECUTE));
        if (open.isEmpty()) {
            return;
        }
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        LOG.log(System.Logger.Level.WARNING, "the token file " + file + " was " + PosixFilePermissions.toString(perms)
                + " (its group or others could read the bearer token): made rw------- (0600)");
    }

    public Path file() {
        return file;
    }

    /**
     * Writes a new random token to the token file (0600, atomic replace) and accepts only it from now on: a request
     * checked after this returns with the old token gets 401. Returns the new token (for the caller to hand to the
     * operator who asked; never to be logged).
     */
    synchronized String rotate() {
        String token = newToken();
        try {
            write(file, token);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the new token to " + file + " (the old token stays valid)", e);
        }
        current = new Current(token.getBytes(StandardCharsets.UTF_8), current.generation() + 1);
        onRotate.forEach(Runnable::run);
        return token;
    }

    private static String newToken() {
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        return HexFormat.of().formatHex(raw);
    }

    /** tmp file created 0600, then renamed over the old one: a reader sees the old token or the new, never half. */
    private static void write(Path file, String token) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, token + "\n");
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Constant-time check of an Authorization header value. */
    boolean accepts(String authorization) {
        return generation(authorization) >= 0;
    }

    /**
     * Constant-time check of an Authorization header value: the generation of the token it carries (compare with
     * {@link #isCurrent} later: a long-lived request ends when its token is rotated away), or -1 if refused.
     */
    long generation(String authorization) {
        Current c = current;
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return -1;
        }
        byte[] given = authorization.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, c.token()) ? c.generation() : -1;
    }

    /** True while no rotation happened since the token of {@code generation} was checked. */
    boolean isCurrent(long generation) {
        return current.generation() == generation;
    }
}
