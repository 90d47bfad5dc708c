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
    void linksLeftQueuedByADeadProcessAreDeletedByTheNextReaperAndALiveOnesAreNot() throws Exception {
        Path journal = Files.createTempDirectory("berth-reaper-journal-");
        try {
            String orphan = newTap();
            String remade = newTap();
            String live = newTap();
            // What a killed process leaves: its directory, notes with the ifindex each link had when queued.
            Path dead = Files.createDirectories(journal.resolve("999999999-0-1")); // no such pid, ever
            Files.writeString(dead.resolve(orphan), ifindex(orphan));
            Files.writeString(dead.resolve(remade), "999999"); // that link was deleted, the name made again
            // A live process's reaper (this JVM's parent stands for it): its notes are its own business.
            Path alive = Files.createDirectories(journal.resolve(
                    LinkReaper.processKey(ProcessHandle.current().parent().orElseThrow()) + "-1"));
            Files.writeString(alive.resolve(live), ifindex(live));
            try (LinkReaper reaper = new LinkReaper(COMMANDS, journal)) {
                assertTrue(reaper.drain(Duration.ofSeconds(10)));
            }
            assertFalse(exists(orphan), "the orphan of the dead process was not deleted");
            assertTrue(exists(remade), "a link made again under a noted name was deleted");
            assertTrue(exists(live), "a live process's queued link was taken from it");
            assertFalse(Files.exists(dead), "the dead process's directory was not taken over");
            assertTrue(Files.exists(alive.resolve(live)), "a live process's note was touched");
            COMMANDS.run(List.of("ip", "link", "del", "dev", remade));
            COMMANDS.run(List.of("ip", "link", "del", "dev", live));
        } finally {
            deleteTree(journal);
        }
    }

    @Test
    void aLinkTakenOverFromADeadProcessCanStillBeTakenBackByAPlug() throws Exception {
        // The agent was killed after an unplug, restarts, and its reconcile plugs the same VIF again: the plug
        // reclaims the tap the new reaper took over, and nothing deletes it afterwards.
        Path journal = Files.createTempDirectory("berth-reaper-journal-");
        LinkReaper reaper = null;
        try {
            String dev = newTap();
            Path dead = Files.createDirectories(journal.resolve("999999999-0-1"));
            Files.writeString(dead.resolve(dev), ifindex(dev));
            reaper = new LinkReaper(COMMANDS, journal, false);
            assertEquals(List.of(dev), reaper.pending(), "taken over from the dead process");
            assertTrue(Files.exists(reaper.journalDir().resolve(dev)), "noted again, under the new reaper");
            assertTrue(reaper.reclaim(dev, Duration.ofSeconds(1)));
            assertFalse(Files.exists(reaper.journalDir().resolve(dev)), "a link taken back keeps no note");
            reaper.start();
            assertTrue(reaper.drain(Duration.ofSeconds(10)));
            assertTrue(exists(dev), "the re-plugged tap was deleted");
            COMMANDS.run(List.of("ip", "link", "del", "dev", dev));
        } finally {
            if (reaper != null) {
                reaper.close();
            }
            deleteTree(journal);
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
            assertEquals(index, Files.readString(reaper.journalDir().resolve(dev)), "queued: noted with its ifindex");
            reaper.start();
            assertTrue(reaper.drain(Duration.ofSeconds(10)));
            assertFalse(exists(dev));
            assertFalse(Files.exists(reaper.journalDir().resolve(dev)), "deleted: the note goes too");
            String kept = newTap();
            reaper.delete(kept);
            assertTrue(reaper.reclaim(kept, Duration.ofSeconds(10)));
            assertFalse(Files.exists(reaper.journalDir().resolve(kept)),
                    "taken back (or deleted meanwhile): no note either way");
            if (exists(kept)) {
                COMMANDS.run(List.of("ip", "link", "del", "dev", kept));
            }
            Path own = reaper.journalDir();
            reaper.close();
            assertFalse(Files.exists(own), "a reaper closed with nothing left removes its directory");
        } finally {
            reaper.close();
            deleteTree(journal);
        }
    }

    private static void deleteTree(Path root) throws Exception {
        try (var walk = Files.walk(root)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static String ifindex(String dev) throws Exception {
        return Files.readString(Path.of("/sys/class/net", dev, "ifindex")).strip();
    }
}
