package org.berth.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The build fails when any source in the tree carries an image id (see {@link ImageIdGuard}). */
class ImageIdGuardTest {
    /** The repository: surefire runs in the module's directory. */
    private static final Path REPO = Path.of("").toAbsolutePath().getParent();

    @Test
    void theTreeCarriesNoImageId() {
        assertTrue(Files.isRegularFile(REPO.resolve("images/lib/common.sh")), "not the repository: " + REPO);
        Set<String> built = TestImages.indexIds(TestImages.dir());
        assertFalse(built.isEmpty(), "no images in " + TestImages.dir() + " (images/build.sh builds them)");
        List<ImageIdGuard.Finding> found = ImageIdGuard.scan(REPO, built);
        assertTrue(found.isEmpty(), () -> "image ids in the source tree (look images up by name through "
                + "org.berth.lab.TestImages instead):\n" + found.stream().map(String::valueOf)
                .collect(Collectors.joining("\n")));
    }

    @Test
    void everyBuiltIdHasTheShapeTheGuardLooksFor() {
        Set<String> built = TestImages.indexIds(TestImages.dir());
        assertFalse(built.isEmpty(), "no images in " + TestImages.dir());
        for (String id : built) {
            assertTrue(ImageIdGuard.DERIVED.matcher(id).matches(), id + " is not what uuid_from_sha256 makes");
        }
        assertEquals(TestImages.manifest(TestImages.GUEST_INITRD).path("id").asText(),
                TestImages.manifest(TestImages.GUEST_KERNEL).path("ramdisk_id").asText());
    }

    @Test
    void aPlantedIdFailsTheGuard(@TempDir Path root) throws IOException {
        Path test = root.resolve("host-agent/src/test/java/org/berth/agent/it/Planted.java");
        Files.createDirectories(test.getParent());
        // the old kernel's id, in pieces: whole, it would fail this repository's own scan above
        String oldKernel = "51349501-a3d1-" + "8f83-8364-37d2b365fd2d";
        Files.writeString(test, """
                class Planted {
                    static final String PORT = "3f0b8e3c-1a2b-4c5d-8e9f-0a1b2c3d4e5f";
                    static final String KERNEL = "%s";
                    static final String NOW = "AABBCCDD-0000-4000-8000-000000000001";
                }
                """.formatted(oldKernel));
        Path doc = root.resolve("images/README.md");
        Files.createDirectories(doc.getParent());
        Files.writeString(doc, "an old id: 4AF0F6FB-D5DC-" + "84E4-B8F6-C0E936CE6ADB\n");
        Path built = root.resolve("host-agent/target/classes/x.json");
        Files.createDirectories(built.getParent());
        Files.writeString(built, "\"" + oldKernel + "\"\n");

        List<ImageIdGuard.Finding> found = ImageIdGuard.scan(root, Set.of("aabbccdd-0000-4000-8000-000000000001"));

        assertEquals(List.of(
                "host-agent/src/test/java/org/berth/agent/it/Planted.java:3: " + oldKernel,
                "host-agent/src/test/java/org/berth/agent/it/Planted.java:4: aabbccdd-0000-4000-8000-000000000001",
                "images/README.md:1: 4AF0F6FB-D5DC-" + "84E4-B8F6-C0E936CE6ADB"),
                found.stream().map(f -> f.file() + ":" + f.line() + ": " + f.id()).sorted().toList());
    }
}
