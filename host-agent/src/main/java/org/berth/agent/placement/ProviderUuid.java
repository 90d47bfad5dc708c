package org.berth.agent.placement;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/** The host's resource provider uuid, made once and kept in the state dir (as nova keeps its compute_id). */
final class ProviderUuid {
    static final String FILE = "placement-provider-uuid";

    private ProviderUuid() {
    }

    static UUID loadOrCreate(Path stateDir) {
        Path file = stateDir.resolve(FILE);
        try {
            if (Files.exists(file)) {
                String raw = Files.readString(file).strip();
                try {
                    return UUID.fromString(raw);
                } catch (IllegalArgumentException e) {
                    throw new IllegalStateException("state_dir: " + file + " must hold the provider uuid, has '"
                            + (raw.length() > 40 ? raw.substring(0, 40) + "…" : raw) + "'");
                }
            }
            UUID u = UUID.randomUUID();
            Path tmp = stateDir.resolve(FILE + ".tmp");
            Files.writeString(tmp, u + "\n");
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return u;
        } catch (IOException e) {
            throw new UncheckedIOException("state_dir: cannot keep the provider uuid in " + file, e);
        }
    }
}
