package org.berth.agent.capacity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;

/**
 * Whether the host takes new instances (Nova's compute service status: enabled, or disabled with a reason). Kept
 * in {@code <state_dir>/host-status.json} so that a disabled host stays disabled across restarts. Thread-safe.
 */
public final class HostStatus {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** @param disabledReason null when enabled; since: when the status last changed */
    public record Status(boolean disabled, String disabledReason, Instant since) {
    }

    private final Path file;
    private volatile Status status;

    private HostStatus(Path file, Status status) {
        this.file = file;
        this.status = status;
    }

    public static HostStatus load(Path stateDir) {
        Path file = stateDir.resolve("host-status.json");
        if (!Files.exists(file)) {
            return new HostStatus(file, new Status(false, null, Instant.now()));
        }
        try {
            JsonNode n = JSON.readTree(file.toFile());
            boolean disabled = n.path("status").asText().equals("disabled");
            return new HostStatus(file, new Status(disabled, disabled ? n.path("disabled_reason").asText() : null,
                    Instant.parse(n.path("since").asText(Instant.now().toString()))));
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("state_dir: " + file + " is not a host status file: " + e.getMessage(), e);
        }
    }

    public Status status() {
        return status;
    }

    /** Refuses new spawns with {@link HostDisabled} naming {@code reason}. */
    public synchronized Status disable(String reason) {
        return write(new Status(true, reason, Instant.now()));
    }

    public synchronized Status enable() {
        return write(new Status(false, null, Instant.now()));
    }

    /** @throws HostDisabled when the host is disabled */
    public void checkEnabled() {
        Status s = status;
        if (s.disabled()) {
            throw new HostDisabled(s.disabledReason());
        }
    }

    private Status write(Status s) {
        var n = JSON.createObjectNode().put("status", s.disabled() ? "disabled" : "enabled")
                .put("disabled_reason", s.disabledReason()).put("since", s.since().toString());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, n.toString());
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        status = s;
        return s;
    }
}
