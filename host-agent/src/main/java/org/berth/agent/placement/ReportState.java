package org.berth.agent.placement;

import java.time.Instant;
import java.util.UUID;

/**
 * The report's state for {@code GET /v1/host} and {@code /metrics}.
 *
 * @param state          {@code disabled} (placement.enabled false), {@code starting}, {@code ok} or {@code failing}
 * @param lastSuccess    the end of the last sync or flush that left Placement equal to the store, null before
 * @param lastError      the last failure's message while failing, else null
 * @param behindSeconds  how long Placement has not matched the store: the oldest change not yet sent, or the time
 *                       since the failures began
 * @param pendingChanges instance allocations changed locally and not yet written to Placement
 * @param reads          GET requests sent since start
 * @param writes         PUT/POST/DELETE requests sent since start
 * @param syncs          full syncs run to their end since start
 */
public record ReportState(String state, UUID providerUuid, Instant lastSuccess, String lastError, long behindSeconds,
                          int pendingChanges, long reads, long writes, long syncs) {

    public static ReportState off() {
        return new ReportState("disabled", null, null, null, 0, 0, 0, 0, 0);
    }
}
