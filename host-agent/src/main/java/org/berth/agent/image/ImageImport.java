package org.berth.agent.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.berth.agent.store.FieldError;
import org.berth.driver.api.Image;
import org.berth.image.ManifestImageStore;

/**
 * POST /v1/images: imports a file that is already on the host, under one of the allowed roots (the image
 * directories and {@code <state_dir>/import}), after checking its SHA-256 against the one the caller gives.
 * The source is copied, never moved: it may be a built image other hosts' tests read.
 */
public final class ImageImport {
    private final ManifestImageStore store;
    private final List<Path> roots;

    public ImageImport(ManifestImageStore store, List<Path> roots) {
        this.store = store;
        this.roots = List.copyOf(roots);
    }

    public Image importFile(ImageMeta meta, String file) {
        String sha256 = meta.sha256();
        Path source = resolve(file);
        Path tmp = null;
        try {
            tmp = Files.createTempFile(store.ownDir(), "import-", ".part");
            Files.copy(source, tmp, StandardCopyOption.REPLACE_EXISTING);
            String actual = ManifestImageStore.sha256(tmp);
            if (!actual.equals(sha256)) {
                throw new FieldError("sha256", "mismatch", "the file's SHA-256 is " + actual + ", not " + sha256);
            }
            Image image = store.add(meta.name(), meta.diskFormat(), meta.containerFormat(), tmp, meta.properties(),
                    actual);
            tmp = null;
            return image;
        } catch (IOException e) {
            throw new FieldError("file", "unreadable", "cannot read '" + file + "': " + e.getMessage());
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // left in the agent's image dir as *.part; harmless
                }
            }
        }
    }

    /** The file, which must be a regular file inside an allowed root after resolving every symlink. */
    Path resolve(String file) {
        if (file.isBlank() || file.indexOf('\0') >= 0) {
            throw new FieldError("file", "required", "must be a path relative to an image directory");
        }
        for (Path root : roots) {
            try {
                if (!Files.isDirectory(root)) {
                    continue;
                }
                Path realRoot = root.toRealPath();
                Path candidate = realRoot.resolve(file).normalize();
                if (!candidate.startsWith(realRoot) || !Files.exists(candidate, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                Path real = candidate.toRealPath();
                if (real.startsWith(realRoot) && Files.isRegularFile(real)) {
                    return real;
                }
            } catch (IOException | java.nio.file.InvalidPathException e) {
                // not under this root
            }
        }
        throw new FieldError("file", "not_in_image_dir", "'" + (file.length() > 64 ? file.substring(0, 64) : file)
                + "' is not a regular file inside " + roots);
    }
}
