package org.berth.driver.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

/** Test peer: an ISO 9660 image read back with xorriso (its table of contents, its files), argument arrays only. */
final class IsoImage {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private IsoImage() {
    }

    /** xorriso's {@code -toc}: "Volume id : 'config-2'", "ISO offers : Rock_Ridge Joliet", ... */
    static String toc(Path iso) {
        return HostCommand.run("xorriso", "xorriso", TIMEOUT, "read " + iso, "-indev", iso.toString(), "-toc")
                + HostCommand.run("xorriso", "xorriso", TIMEOUT, "read " + iso, "-indev", iso.toString(), "-pvd_info");
    }

    /** Extracts every file (Rock Ridge names) into {@code into}; returns their paths relative to it, sorted. */
    static List<String> extract(Path iso, Path into) throws IOException {
        HostCommand.run("xorriso", "xorriso", TIMEOUT, "extract " + iso, "-osirrox", "on", "-indev", iso.toString(),
                "-extract", "/", into.toString());
        try (Stream<Path> files = Files.walk(into)) {
            return files.filter(Files::isRegularFile).map(p -> into.relativize(p).toString()).sorted().toList();
        }
    }
}
