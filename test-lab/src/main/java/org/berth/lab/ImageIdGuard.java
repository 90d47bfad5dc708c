package org.berth.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds content-derived image ids written into the source tree. {@code images/build.sh} derives an image's id from
 * its sha256 as an RFC 9562 version-8 UUID ({@code uuid_from_sha256}), so every id it ever gave, from any package
 * version, has that shape: a literal of that shape in a source file is an id that will change when Debian moves a
 * package (the cloud kernel did, and a test that carried its id broke every fresh machine). The ids of the images
 * built now are looked for as well, in any shape. Nothing else in the tree may use version-8 UUIDs; test data that
 * needs a fixed uuid takes a version-4 one.
 */
public final class ImageIdGuard {
    /** What build.sh makes: 8-4-4-4-12 hex, version nibble 8, variant 10xx. */
    static final Pattern DERIVED = Pattern.compile(
            "(?<![0-9a-fA-F-])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-8[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}(?![0-9a-fA-F-])");
    private static final Set<String> SKIPPED_DIRS = Set.of(".git", "target", "node_modules", "state");
    private static final Set<String> SOURCE_SUFFIXES = Set.of(".java", ".sh", ".md", ".yaml", ".yml", ".json",
            ".xml", ".py", ".properties", ".txt", ".cfg");

    /** One literal id found: where, and why it is one. */
    public record Finding(Path file, int line, String id, String why) {
        @Override
        public String toString() {
            return file + ":" + line + ": " + id + " (" + why + ")";
        }
    }

    private ImageIdGuard() {
    }

    /**
     * Scans every source file under {@code root} (skipping {@code .git}, {@code target}, {@code node_modules},
     * {@code state}) for version-8 UUIDs and for any of {@code builtIds}.
     */
    public static List<Finding> scan(Path root, Set<String> builtIds) {
        List<Finding> out = new ArrayList<>();
        Set<String> built = lower(builtIds);
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                    return !dir.equals(root) && SKIPPED_DIRS.contains(dir.getFileName().toString())
                            ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    if (attrs.isRegularFile() && isSource(file)) {
                        scanFile(root.relativize(file), file, built, out);
                    }
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot scan " + root, e);
        }
        return out;
    }

    private static boolean isSource(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot >= 0 && SOURCE_SUFFIXES.contains(name.substring(dot).toLowerCase(Locale.ROOT));
    }

    private static void scanFile(Path shown, Path file, Set<String> built, List<Finding> out) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (MalformedInputException notText) {
            return;
        }
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            Matcher m = DERIVED.matcher(line);
            while (m.find()) {
                out.add(new Finding(shown, i + 1, m.group(), "a version-8 UUID: the shape of a content-derived image id"));
            }
            String lower = line.toLowerCase(Locale.ROOT);
            for (String id : built) {
                if (lower.contains(id) && !DERIVED.matcher(id).matches()) {
                    out.add(new Finding(shown, i + 1, id, "the id of an image in the image index"));
                }
            }
        }
    }

    private static Set<String> lower(Set<String> ids) {
        return Set.copyOf(ids.stream().map(s -> s.toLowerCase(Locale.ROOT)).toList());
    }
}
