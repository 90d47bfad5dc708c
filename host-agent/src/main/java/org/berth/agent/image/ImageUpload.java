package org.berth.agent.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.berth.agent.store.FieldError;
import org.berth.driver.api.Image;
import org.berth.image.ManifestImageStore;

/**
 * One streamed upload (POST /v1/images with the bytes as the body): the bytes go to {@code upload-*.part} in the
 * agent's image directory as they arrive, hashed on the way, so an image of any size costs one buffer of memory.
 * {@link #finish} registers the image only when the SHA-256 matches; {@link #abort} (mismatch, oversize,
 * disconnect) deletes the file. Not thread-safe: one thread writes, in order.
 */
public final class ImageUpload {
    private final ManifestImageStore store;
    private final ImageMeta meta;
    private final MessageDigest digest;
    private Path file;
    private FileChannel out;
    private long size;

    private ImageUpload(ManifestImageStore store, ImageMeta meta, Path file, FileChannel out) {
        this.store = store;
        this.meta = meta;
        this.file = file;
        this.out = out;
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Creates the temp file; the caller must end with {@link #finish} or {@link #abort}. */
    public static ImageUpload begin(ManifestImageStore store, ImageMeta meta) throws IOException {
        Path file = Files.createTempFile(store.ownDir(), "upload-", ".part");
        try {
            return new ImageUpload(store, meta, file,
                    FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING));
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(file);
            throw e;
        }
    }

    public ImageMeta meta() {
        return meta;
    }

    public long size() {
        return size;
    }

    /** The temp file while the upload is open; null after finish or abort. */
    public Path file() {
        return file;
    }

    /** Appends the bytes (the buffer is consumed); the caller bounds the total size. */
    public void write(ByteBuffer bytes) throws IOException {
        if (out == null) {
            throw new IllegalStateException("upload already ended");
        }
        size += bytes.remaining();
        digest.update(bytes.duplicate());
        while (bytes.hasRemaining()) {
            out.write(bytes);
        }
    }

    /** Checks the SHA-256 and registers the image; on any failure the temp file is gone. */
    public Image finish() throws IOException {
        try {
            out.force(false);
            out.close();
            out = null;
            String actual = HexFormat.of().formatHex(digest.digest());
            if (!actual.equals(meta.sha256())) {
                throw new FieldError("sha256", "mismatch", "the uploaded bytes' SHA-256 is " + actual + ", not "
                        + meta.sha256() + " (" + size + " bytes received)");
            }
            Image image = store.add(meta.name(), meta.diskFormat(), meta.containerFormat(), file, meta.properties(),
                    actual);
            file = null; // moved into the store
            return image;
        } finally {
            abort();
        }
    }

    /** Closes and deletes the temp file; idempotent. */
    public void abort() {
        try {
            if (out != null) {
                out.close();
            }
        } catch (IOException ignored) {
            // deleting below is what matters
        }
        out = null;
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // an upload-*.part left in the agent's image dir; harmless, never listed
            }
            file = null;
        }
    }
}
