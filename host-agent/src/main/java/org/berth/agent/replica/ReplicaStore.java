package org.berth.agent.replica;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The replicas this agent keeps: one JSON file per instance in {@code <state_dir>/replicas}, each written to a
 * temporary file and moved into place (a crash leaves the old file or the new one, never half of one). Files rather
 * than a table of the instance store: replicas are other hosts' data, written rarely, read only by
 * {@code berth cloud evacuate}, and keeping them apart leaves the instance store's schema alone. At most
 * {@link #MAX_REPLICAS} replicas of at most {@link #MAX_BYTES} bytes each, so the directory stays bounded. Only the
 * host and time of each are kept in memory. Thread-safe.
 */
public final class ReplicaStore {
    private static final System.Logger LOG = System.getLogger(ReplicaStore.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final int MAX_REPLICAS = 10_000;
    /** A spec with 16 VIFs, 128 metadata entries, 16 keys and 64 KiB of user data (87 KB as base64) fits. */
    public static final int MAX_BYTES = 256 * 1024;
    private static final String SUFFIX = ".json";

    private final Path dir;
    private final Map<UUID, Entry> index = new HashMap<>();

    private record Entry(String host, Instant updatedAt) {
    }

    /** What {@link #put} did. */
    public enum Put { CREATED, REPLACED, STALE, FULL }

    private ReplicaStore(Path dir) {
        this.dir = dir;
    }

    /** Opens (creating) the directory and reads the host and time of every replica in it. */
    public static ReplicaStore open(Path dir) {
        ReplicaStore s = new ReplicaStore(dir);
        try {
            Files.createDirectories(dir);
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                for (Path f : files) {
                    s.load(f);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("replicas: cannot read " + dir, e);
        }
        return s;
    }

    private void load(Path f) throws IOException {
        String name = f.getFileName().toString();
        if (!name.endsWith(SUFFIX)) {
            Files.deleteIfExists(f); // a temporary file a crash left behind
            return;
        }
        try {
            Replica r = read(f);
            index.put(r.uuid(), new Entry(r.host(), r.updatedAt()));
        } catch (IOException | RuntimeException e) {
            // a file that does not read is worthless as a replica: the next publish writes it again
            LOG.log(Level.WARNING, "replicas: " + f + " does not read (" + e.getMessage() + "); removed");
            Files.deleteIfExists(f);
        }
    }

    /** How many replicas are kept. */
    public synchronized int size() {
        return index.size();
    }

    /**
     * Keeps {@code r}, replacing an older one of the same instance. {@link Put#STALE}: the one kept is newer (a
     * publish that arrived late), nothing written; {@link Put#FULL}: a new instance while {@link #MAX_REPLICAS} are
     * kept.
     */
    public synchronized Put put(Replica r) {
        Entry old = index.get(r.uuid());
        if (old != null && old.updatedAt().isAfter(r.updatedAt())) {
            return Put.STALE;
        }
        if (old == null && index.size() >= MAX_REPLICAS) {
            return Put.FULL;
        }
        ObjectNode n = JSON.createObjectNode();
        n.put("uuid", r.uuid().toString()).put("host", r.host()).put("driver", r.driver());
        n.set("spec", r.spec());
        n.put("updated_at", r.updatedAt().toString());
        Path file = file(r.uuid());
        Path tmp = dir.resolve(r.uuid() + ".tmp");
        try {
            Files.write(tmp, JSON.writeValueAsBytes(n));
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("replicas: cannot write " + file, e);
        }
        index.put(r.uuid(), new Entry(r.host(), r.updatedAt()));
        return old == null ? Put.CREATED : Put.REPLACED;
    }

    public synchronized Optional<Replica> find(UUID uuid) {
        if (!index.containsKey(uuid)) {
            return Optional.empty();
        }
        try {
            return Optional.of(read(file(uuid)));
        } catch (IOException e) {
            throw new UncheckedIOException("replicas: cannot read " + file(uuid), e);
        }
    }

    /** The replicas of instances on {@code host} (all of them when empty), oldest first. */
    public synchronized List<Replica> list(Optional<String> host) {
        List<Replica> out = new ArrayList<>();
        index.forEach((uuid, e) -> {
            if (host.isEmpty() || host.get().equals(e.host())) {
                find(uuid).ifPresent(out::add);
            }
        });
        out.sort(Comparator.comparing(Replica::updatedAt).thenComparing(Replica::uuid));
        return out;
    }

    /** Forgets the instance's replica; false when there was none. */
    public synchronized boolean delete(UUID uuid) {
        if (index.remove(uuid) == null) {
            return false;
        }
        try {
            Files.deleteIfExists(file(uuid));
        } catch (IOException e) {
            throw new UncheckedIOException("replicas: cannot delete " + file(uuid), e);
        }
        return true;
    }

    private Path file(UUID uuid) {
        return dir.resolve(uuid + SUFFIX);
    }

    private static Replica read(Path f) throws IOException {
        JsonNode n = JSON.readTree(f.toFile());
        return new Replica(UUID.fromString(n.get("uuid").asText()), n.get("host").asText(), n.get("driver").asText(),
                n.get("spec"), Instant.parse(n.get("updated_at").asText()));
    }
}
