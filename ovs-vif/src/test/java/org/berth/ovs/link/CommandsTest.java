package org.berth.ovs.link;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandsTest {
    private final Commands commands = new Commands(Duration.ofMillis(500));

    @Test
    void argumentsAreNeverInterpretedByAShell() {
        assertEquals("a b; echo pwned $HOME\n", commands.run(List.of("echo", "a b; echo pwned $HOME")));
    }

    @Test
    void nonZeroExitQuotesTheCommandAndItsStderr() {
        var e = assertThrows(CommandFailed.class, () -> commands.run(List.of("ip", "link", "show", "dev", "nosuchdev0")));
        assertTrue(e.getMessage().startsWith("`ip link show dev nosuchdev0` failed (exit 1): Device \"nosuchdev0\" does not exist"),
                e.getMessage());
    }

    @Test
    void aHungCommandIsKilledAtTheTimeout() {
        long start = System.nanoTime();
        var e = assertThrows(CommandFailed.class, () -> commands.run(List.of("sleep", "10")));
        assertTrue(e.timedOut());
        assertTrue((System.nanoTime() - start) / 1_000_000 < 3000);
    }

    @Test
    void stdinIsPassed() {
        assertEquals("hello\n", commands.run(List.of("cat"), "hello\n").stdout());
    }
}
