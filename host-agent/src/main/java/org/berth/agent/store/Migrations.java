package org.berth.agent.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/** Versioned schema: version N is the N-th entry; applied in order, each in one transaction. */
final class Migrations {
    static final List<List<String>> STEPS = List.of(
            List.of("""
                    CREATE TABLE instances (
                      uuid TEXT PRIMARY KEY, name TEXT NOT NULL, driver TEXT NOT NULL, spec_json TEXT NOT NULL,
                      vcpus INTEGER NOT NULL, memory_mb INTEGER NOT NULL, disk_gb INTEGER NOT NULL,
                      vm_state TEXT NOT NULL, power_state INTEGER NOT NULL, task_state TEXT,
                      backend_id TEXT, fault TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
                    "CREATE INDEX instances_driver ON instances(driver)",
                    """
                    CREATE TABLE events (
                      id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL, request_id TEXT,
                      kind TEXT NOT NULL, detail TEXT, at TEXT NOT NULL)""",
                    "CREATE INDEX events_uuid ON events(uuid)"),
            // a cold migration's side on this host (Migration's JSON), null when none
            List.of("ALTER TABLE instances ADD COLUMN migration_json TEXT"),
            // diagnostics' uptime looks up an instance's newest STARTED event, however many events came after it
            List.of("CREATE INDEX events_uuid_kind ON events(uuid, kind, detail, id)"));

    private Migrations() {
    }

    /** Brings the schema to the newest version; returns the version it found. */
    static int apply(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
            int found;
            try (var rs = s.executeQuery("SELECT COALESCE(MAX(version), 0) FROM schema_version")) {
                found = rs.next() ? rs.getInt(1) : 0;
            }
            if (found > STEPS.size()) {
                throw new SQLException("the store has schema version " + found + ", newer than this agent's "
                        + STEPS.size() + "; run a newer agent");
            }
            for (int v = found + 1; v <= STEPS.size(); v++) {
                c.setAutoCommit(false);
                try {
                    for (String sql : STEPS.get(v - 1)) {
                        s.execute(sql);
                    }
                    s.execute("INSERT INTO schema_version(version) VALUES (" + v + ")");
                    c.commit();
                } catch (SQLException e) {
                    c.rollback();
                    throw e;
                } finally {
                    c.setAutoCommit(true);
                }
            }
            return found;
        }
    }
}
