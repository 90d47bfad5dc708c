package org.berth.agent.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.PowerState;

/**
 * The agent's embedded SQLite store (WAL). One connection, serialised by this object's monitor: SQLite has one
 * writer anyway and every statement here is a few microseconds. Errors become {@link StoreException}.
 */
public final class Store implements AutoCloseable {
    private static final String COLUMNS = "uuid, name, driver, spec_json, vcpus, memory_mb, disk_gb, vm_state, "
            + "power_state, task_state, backend_id, fault, created_at, updated_at, migration_json";

    private final Connection connection;
    private final Path file;
    private volatile java.util.function.Consumer<StoredEvent> listener = e -> { };
    /** Bumped by every write to the instances table: readers can cache a view and revalidate it cheaply. */
    private volatile long instancesVersion;

    private Store(Connection connection, Path file) {
        this.connection = connection;
        this.file = file;
    }

    public static Store open(Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA busy_timeout=5000");
                s.execute("PRAGMA synchronous=NORMAL");
            }
            Migrations.apply(c);
            return new Store(c, file);
        } catch (SQLException | java.io.IOException e) {
            throw new StoreException("cannot open the store " + file + ": " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    public synchronized int schemaVersion() {
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT MAX(version) FROM schema_version")) {
            return rs.next() ? rs.getInt(1) : 0;
        } catch (SQLException e) {
            throw new StoreException("schema version: " + e.getMessage(), e);
        }
    }

    public synchronized void insert(InstanceRecord r) {
        try (PreparedStatement p = connection.prepareStatement(
                "INSERT INTO instances(" + COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")) {
            bind(p, r);
            p.executeUpdate();
            instancesVersion++;
        } catch (SQLException e) {
            throw new StoreException("insert instance " + r.uuid() + ": " + e.getMessage(), e);
        }
    }

    /** Writes every field of the record (matched by uuid). */
    public synchronized void update(InstanceRecord r) {
        try (PreparedStatement p = connection.prepareStatement("UPDATE instances SET uuid=?, name=?, driver=?, "
                + "spec_json=?, vcpus=?, memory_mb=?, disk_gb=?, vm_state=?, power_state=?, task_state=?, "
                + "backend_id=?, fault=?, created_at=?, updated_at=?, migration_json=? WHERE uuid=?")) {
            bind(p, r);
            p.setString(16, r.uuid().toString());
            p.executeUpdate();
            instancesVersion++;
        } catch (SQLException e) {
            throw new StoreException("update instance " + r.uuid() + ": " + e.getMessage(), e);
        }
    }

    /** Sets vm_state and power_state only when no task is recorded; returns whether it did. */
    public synchronized boolean updateStateIfIdle(UUID uuid, VmState vm, PowerState power) {
        try (PreparedStatement p = connection.prepareStatement("UPDATE instances SET vm_state=?, power_state=?, "
                + "updated_at=? WHERE uuid=? AND task_state IS NULL AND vm_state<>'DELETED'")) {
            p.setString(1, vm.name());
            p.setInt(2, power.code());
            p.setString(3, Instant.now().toString());
            p.setString(4, uuid.toString());
            boolean updated = p.executeUpdate() == 1;
            instancesVersion++;
            return updated;
        } catch (SQLException e) {
            throw new StoreException("update state of " + uuid + ": " + e.getMessage(), e);
        }
    }

    public synchronized void delete(UUID uuid) {
        try (PreparedStatement p = connection.prepareStatement("DELETE FROM instances WHERE uuid=?")) {
            p.setString(1, uuid.toString());
            p.executeUpdate();
            instancesVersion++;
        } catch (SQLException e) {
            throw new StoreException("delete instance " + uuid + ": " + e.getMessage(), e);
        }
    }

    /**
     * A number that changes with every write to the instances table. Read it before a query: a view built from that
     * query is current as long as the number has not changed (a write racing the query only makes it look older).
     */
    public long instancesVersion() {
        return instancesVersion;
    }

    public synchronized Optional<InstanceRecord> find(UUID uuid) {
        List<InstanceRecord> l = query("SELECT " + COLUMNS + " FROM instances WHERE uuid=?", uuid.toString());
        return l.stream().findFirst();
    }

    /** Instances not deleted, optionally of one driver, oldest first. */
    public synchronized List<InstanceRecord> list(Optional<String> driver) {
        return driver.map(d -> query("SELECT " + COLUMNS + " FROM instances WHERE vm_state<>'DELETED' AND driver=? "
                        + "ORDER BY created_at, uuid", d))
                .orElseGet(() -> query("SELECT " + COLUMNS + " FROM instances WHERE vm_state<>'DELETED' "
                        + "ORDER BY created_at, uuid"));
    }

    /** Every record, deleted ones included. */
    public synchronized List<InstanceRecord> listAll() {
        return query("SELECT " + COLUMNS + " FROM instances ORDER BY created_at, uuid");
    }

    public synchronized Usage usage() {
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT COALESCE(SUM(vcpus),0), COALESCE(SUM(memory_mb),0), "
                     + "COALESCE(SUM(disk_gb),0), COUNT(*) FROM instances WHERE vm_state<>'DELETED'")) {
            rs.next();
            return new Usage(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getInt(4));
        } catch (SQLException e) {
            throw new StoreException("usage: " + e.getMessage(), e);
        }
    }

    /** Count of instances (not deleted) per driver and vm_state, for metrics. */
    public synchronized Map<List<String>, Integer> countByDriverAndState() {
        Map<List<String>, Integer> out = new LinkedHashMap<>();
        try (Statement s = connection.createStatement();
             ResultSet rs = s.executeQuery("SELECT driver, vm_state, COUNT(*) FROM instances "
                     + "WHERE vm_state<>'DELETED' GROUP BY driver, vm_state ORDER BY driver, vm_state")) {
            while (rs.next()) {
                out.put(List.of(rs.getString(1), rs.getString(2)), rs.getInt(3));
            }
            return out;
        } catch (SQLException e) {
            throw new StoreException("count: " + e.getMessage(), e);
        }
    }

    /** Receives every event after it is stored (must not block: it runs under the store's lock). */
    public void onEvent(java.util.function.Consumer<StoredEvent> newListener) {
        this.listener = newListener;
    }

    public synchronized void addEvent(UUID uuid, String requestId, String kind, String detail) {
        Instant at = Instant.now();
        try (PreparedStatement p = connection.prepareStatement(
                "INSERT INTO events(uuid, request_id, kind, detail, at) VALUES (?,?,?,?,?)",
                Statement.RETURN_GENERATED_KEYS)) {
            p.setString(1, uuid.toString());
            p.setString(2, requestId);
            p.setString(3, kind);
            p.setString(4, detail);
            p.setString(5, at.toString());
            p.executeUpdate();
            long id = 0;
            try (ResultSet keys = p.getGeneratedKeys()) {
                if (keys.next()) {
                    id = keys.getLong(1);
                }
            }
            listener.accept(new StoredEvent(id, uuid, requestId, kind, detail, at));
        } catch (SQLException e) {
            throw new StoreException("event for " + uuid + ": " + e.getMessage(), e);
        }
    }

    /**
     * When the instance's newest event of this kind and detail was stored, however old (diagnostics' uptime: the
     * last STARTED lifecycle event); one lookup on the events_uuid_kind index, not a scan of the instance's events.
     */
    public synchronized Optional<Instant> lastEventAt(UUID uuid, String kind, String detail) {
        try (PreparedStatement p = connection.prepareStatement("SELECT at FROM events WHERE uuid=? AND kind=? "
                + "AND detail=? ORDER BY id DESC LIMIT 1")) {
            p.setString(1, uuid.toString());
            p.setString(2, kind);
            p.setString(3, detail);
            try (ResultSet rs = p.executeQuery()) {
                return rs.next() ? Optional.of(Instant.parse(rs.getString(1))) : Optional.empty();
            }
        } catch (SQLException e) {
            throw new StoreException("last " + kind + " " + detail + " event of " + uuid + ": " + e.getMessage(), e);
        }
    }

    /** The newest {@code limit} events of an instance, oldest first. */
    public synchronized List<StoredEvent> events(UUID uuid, int limit) {
        List<StoredEvent> out = new ArrayList<>();
        try (PreparedStatement p = connection.prepareStatement("SELECT id, uuid, request_id, kind, detail, at "
                + "FROM events WHERE uuid=? ORDER BY id DESC LIMIT ?")) {
            p.setString(1, uuid.toString());
            p.setInt(2, limit);
            try (ResultSet rs = p.executeQuery()) {
                while (rs.next()) {
                    out.add(0, new StoredEvent(rs.getLong(1), UUID.fromString(rs.getString(2)), rs.getString(3),
                            rs.getString(4), rs.getString(5), Instant.parse(rs.getString(6))));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new StoreException("events of " + uuid + ": " + e.getMessage(), e);
        }
    }

    private List<InstanceRecord> query(String sql, String... args) {
        List<InstanceRecord> out = new ArrayList<>();
        try (PreparedStatement p = connection.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                p.setString(i + 1, args[i]);
            }
            try (ResultSet rs = p.executeQuery()) {
                while (rs.next()) {
                    out.add(new InstanceRecord(UUID.fromString(rs.getString(1)), rs.getString(2), rs.getString(3),
                            rs.getString(4), rs.getInt(5), rs.getLong(6), rs.getLong(7),
                            VmState.valueOf(rs.getString(8)), PowerState.ofCode(rs.getInt(9)), rs.getString(10),
                            rs.getString(11), rs.getString(12), Instant.parse(rs.getString(13)),
                            Instant.parse(rs.getString(14)), Migration.read(rs.getString(15))));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new StoreException("query: " + e.getMessage(), e);
        }
    }

    private static void bind(PreparedStatement p, InstanceRecord r) throws SQLException {
        p.setString(1, r.uuid().toString());
        p.setString(2, r.name());
        p.setString(3, r.driver());
        p.setString(4, r.specJson());
        p.setInt(5, r.vcpus());
        p.setLong(6, r.memoryMb());
        p.setLong(7, r.diskGb());
        p.setString(8, r.vmState().name());
        p.setInt(9, r.powerState().code());
        p.setString(10, r.taskState());
        p.setString(11, r.backendId());
        p.setString(12, r.fault());
        p.setString(13, r.createdAt().toString());
        p.setString(14, r.updatedAt().toString());
        p.setString(15, Migration.write(r.migration()));
    }

    @Override
    public synchronized void close() {
        try {
            connection.close();
        } catch (SQLException e) {
            throw new StoreException("close: " + e.getMessage(), e);
        }
    }
}
