package org.berth.agent;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** Everything logged under {@code org.berth} (all levels, FINEST included) while open, as "LEVEL logger message". */
public final class LogCapture extends Handler implements AutoCloseable {
    private static final Logger BERTH = Logger.getLogger("org.berth");
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Level before;

    public LogCapture() {
        before = BERTH.getLevel();
        setLevel(Level.ALL);
        BERTH.setLevel(Level.ALL);
        BERTH.addHandler(this);
    }

    @Override
    public void publish(LogRecord r) {
        lines.add(r.getLevel() + " " + r.getLoggerName() + " " + r.getMessage()
                + (r.getThrown() == null ? "" : " " + r.getThrown()));
    }

    public void clear() {
        lines.clear();
    }

    public List<String> lines() {
        return List.copyOf(lines);
    }

    /** The lines at {@code level} that contain {@code text}. */
    public List<String> lines(Level level, String text) {
        return lines.stream().filter(l -> l.startsWith(level.getName() + " ") && l.contains(text)).toList();
    }

    /** Waits up to {@code millis} for {@code n} lines containing {@code text}. */
    public void await(String text, int n, long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (lines.stream().filter(l -> l.contains(text)).count() < n && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
    }

    @Override
    public String toString() {
        return String.join("\n", lines);
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
        BERTH.removeHandler(this);
        BERTH.setLevel(before);
    }
}
