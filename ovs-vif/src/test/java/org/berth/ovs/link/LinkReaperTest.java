package org.berth.ovs.link;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real taps on the host, deleted by the reaper; every test checks its taps are gone and removes leftovers. */
class LinkReaperTest {
    private static final Commands COMMANDS = new Commands(Duration.ofSeconds(10));
    private final List<String> taps = new ArrayList<>();

    private String newTap() {
        String dev = "brt" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 28));
        COMMANDS.run(List.of("ip", "tuntap", "add", "dev", dev, "mode", "tap"));
        taps.add(dev);
        return dev;
    }

    private static boolean exists(String dev) {
        return Files.exists(Path.of("/sys/class/net", dev));
    }

    @AfterEach
    void removeLeftovers() {
        List<String> left = taps.stream().filter(LinkReaperTest::exists).toList();
        left.forEach(dev -> COMMANDS.tryRun(List.of("ip", "link", "del", "dev", dev), null));
        assertEquals(List.of(), left, "taps the test left");
    }

    @Test
    void deletesInTheBackgroundAndReleasesTheNames() {
        LinkReaper reaper = new LinkReaper(COMMANDS, false);
        try {
            List<String> devs = List.of(newTap(), newTap(), newTap());
            devs.forEach(reaper::delete);
            // delete() only queued them: with the worker not started they are all still on the host, pending.
            assertEquals(devs, reaper.pending());
            devs.forEach(dev -> assertTrue(exists(dev), dev + " was deleted in the caller's thread"));
            reaper.start();
            assertTrue(reaper.drain(Duration.ofSeconds(10)), "still pending: " + reaper.pending());
            devs.forEach(dev -> assertFalse(exists(dev), dev + " still on the host"));
            assertEquals(List.of(), reaper.pending());
        } finally {
            reaper.close();
        }
    }

    @Test
    void reclaimTakesBackAQueuedLinkAndWaitsForOneBeingDeleted() {
        LinkReaper reaper = new LinkReaper(COMMANDS, false);
        try {
            String kept = newTap();
            String gone = newTap();
            reaper.delete(kept);
            reaper.delete(gone);
            // Not started on yet: taken back, left on the host for the caller, no longer pending.
            assertTrue(reaper.reclaim(kept, Duration.ofSeconds(1)));
            assertTrue(exists(kept), "a reclaimed link must stay for the caller to reuse");
            assertEquals(List.of(gone), reaper.pending());
            reaper.start();
            assertTrue(reaper.drain(Duration.ofSeconds(10)));
            assertFalse(exists(gone));
            assertTrue(exists(kept), "the worker deleted a reclaimed link");
            assertTrue(reaper.reclaim("brt-never-queued", Duration.ofMillis(1)), "a name never queued is free");
            COMMANDS.run(List.of("ip", "link", "del", "dev", kept));
        } finally {
            reaper.close();
        }
    }

    @Test
    void aFullQueueMakesTheCallerDeleteItself() {
        LinkReaper reaper = new LinkReaper(COMMANDS, false);
        try {
            // The bound, filled with placeholder names (no such links: the worker skips them), not 1024 real taps.
            for (int i = 0; i < LinkReaper.MAX_PENDING; i++) {
                reaper.queueForTest("brt-fill-" + i);
            }
            String dev = newTap();
            reaper.delete(dev);
            assertFalse(exists(dev), "past the bound delete() must delete in the caller's thread");
            assertFalse(reaper.pending().contains(dev));
        } finally {
            reaper.start();
            reaper.close();
        }
    }

    @Test
    void aMissingLinkIsNotQueued() {
        try (LinkReaper reaper = new LinkReaper(COMMANDS)) {
            reaper.delete("brt-not-there");
            assertEquals(List.of(), reaper.pending());
        }
    }

    @Test
    void closeDeletesWhatIsQueuedAndLaterDeletesRunInTheCaller() {
        LinkReaper reaper = new LinkReaper(COMMANDS);
        List<String> devs = List.of(newTap(), newTap());
        devs.forEach(reaper::delete);
        reaper.close();
        devs.forEach(dev -> assertFalse(exists(dev), dev + " survived close"));
        String late = newTap();
        reaper.delete(late);
        assertFalse(exists(late), "a delete after close must happen before it returns");
        assertEquals(List.of(), reaper.pending());
    }

    @Test
    void aLinkMadeAgainUnderTheQueuedNameIsLeftAlone() throws Exception {
        LinkReaper reaper = new LinkReaper(COMMANDS, false);
        try {
            String dev = newTap();
            String before = Files.readString(Path.of("/sys/class/net", dev, "ifindex")).strip();
            reaper.delete(dev);
            assertEquals(List.of(dev), reaper.pending());
            // Someone else deletes it and makes a new link of the same name before the worker runs.
            COMMANDS.run(List.of("ip", "link", "del", "dev", dev));
            COMMANDS.run(List.of("ip", "tuntap", "add", "dev", dev, "mode", "tap"));
            String after = Files.readString(Path.of("/sys/class/net", dev, "ifindex")).strip();
            assertTrue(!before.equals(after), "the kernel reused ifindex " + before);
            reaper.start();
            assertTrue(reaper.drain(Duration.ofSeconds(10)));
            assertTrue(exists(dev), "the reaper deleted a link it was not given");
            COMMANDS.run(List.of("ip", "link", "del", "dev", dev));
        } finally {
            reaper.close();
        }
    }

    @Test
    void linksLeftQueuedByADeadProcessAreDeletedByTheNextReaper() throws Exception {
        Path journal = Files.createTempDirectory("berth-reaper-journal-");
        try {
            String orphan = newTap();
            String remade = newTap();
            String fresh = newTap();
            // What a killed process leaves: notes with the ifindex each link had when it was queued.
            Files.writeString(journal.resolve(orphan), ifindex(orphan));
            Files.writeString(journal.resolve(remade), "999999"); // that link was deleted, the name made again
            Files.writeString(journal.resolve(fresh), ifindex(fresh));
            var old = java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 60_000);
            Files.setLastModifiedTime(journal.resolve(orphan), old);
            Files.setLastModifiedTime(journal.resolve(remade), old);
            try (LinkReaper reaper = new LinkReaper(COMMANDS, journal)) {
                assertTrue(reaper.drain(Duration.ofSeconds(10)));
            }
            assertFalse(exists(orphan), "the orphan of the dead process was not deleted");
            assertTrue(exists(remade), "a link made again under a noted name was deleted");
            assertTrue(exists(fresh), "a note younger than RECOVER_AFTER may be a live reaper's: left alone");
            assertFalse(Files.exists(journal.resolve(orphan)) || Files.exists(journal.resolve(remade)),
                    "handled notes must go");
            assertTrue(Files.exists(journal.resolve(fresh)));
            COMMANDS.run(List.of("ip", "link", "del", "dev", remade));
            COMMANDS.run(List.of("ip", "link", "del", "dev", fresh));
        } finally {
            try (var files = Files.list(journal)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(journal);
        }
    }

    @Test
    void theJournalHoldsANoteWhileALinkIsQueuedAndNoneAfter() throws Exception {
        Path journal = Files.createTempDirectory("berth-reaper-journal-");
        LinkReaper reaper = new LinkReaper(COMMANDS, journal, false);
        try {
            String dev = newTap();
            String index = ifindex(dev);
            reaper.delete(dev);
            assertEquals(index, Files.readString(journal.resolve(dev)), "queued: noted with its ifindex");
            reaper.start();
            assertTrue(reaper.drain(Duration.ofSeconds(10)));
            assertFalse(exists(dev));
            assertFalse(Files.exists(journal.resolve(dev)), "deleted: the note goes too");
            String kept = newTap();
            reaper.delete(kept);
            assertTrue(reaper.reclaim(kept, Duration.ofSeconds(10)));
            assertFalse(Files.exists(journal.resolve(kept)), "taken back (or deleted meanwhile): no note either way");
            if (exists(kept)) {
                COMMANDS.run(List.of("ip", "link", "del", "dev", kept));
            }
        } finally {
            reaper.close();
            try (var files = Files.list(journal)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(journal);
        }
    }

    private static String ifindex(String dev) throws Exception {
        return Files.readString(Path.of("/sys/class/net", dev, "ifindex")).strip();
    }
}
