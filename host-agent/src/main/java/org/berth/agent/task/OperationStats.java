package org.berth.agent.task;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** Count, failures and total seconds of each driver operation, for /metrics. */
public final class OperationStats {
    public record Snapshot(long count, long failures, double seconds) {
    }

    private record Cell(LongAdder count, LongAdder failures, LongAdder nanos) {
    }

    private final ConcurrentHashMap<String, Cell> cells = new ConcurrentHashMap<>();

    public void record(String driver, String operation, long nanos, boolean failed) {
        Cell c = cells.computeIfAbsent(driver + "\u0000" + operation,
                k -> new Cell(new LongAdder(), new LongAdder(), new LongAdder()));
        c.count().increment();
        c.nanos().add(nanos);
        if (failed) {
            c.failures().increment();
        }
    }

    /** Keyed by "driver\0operation". */
    public Map<String, Snapshot> snapshot() {
        Map<String, Snapshot> out = new TreeMap<>();
        cells.forEach((k, c) -> out.put(k, new Snapshot(c.count().sum(), c.failures().sum(), c.nanos().sum() / 1e9)));
        return out;
    }
}
