package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.berth.agent.cli.CliException;

/**
 * Where an instance is and how far a move of it got, read from the agents (there is no cluster database: each agent
 * holds its own side of a migration in its record's {@code migration} marker).
 *
 * @param instance    the instance
 * @param holders     every reachable host that has a record of it, with the record
 * @param unreachable the hosts that did not answer
 */
record MoveState(UUID instance, List<Held> holders, List<String> unreachable) {
    /** One host's record of the instance. */
    record Held(String host, JsonNode record) {
        /** The marker's role ("source", "destination"), or null outside a migration. */
        String role() {
            JsonNode m = record.path("migration");
            return m.isObject() ? m.path("role").asText() : null;
        }

        UUID migration() {
            return UUID.fromString(record.path("migration").path("id").asText());
        }

        String peer() {
            return record.path("migration").path("peer").asText();
        }

        String imageId() {
            JsonNode i = record.path("migration").path("image_id");
            return i.isTextual() ? i.asText() : null;
        }

        String vmState() {
            return record.path("vm_state").asText();
        }

        boolean idle() {
            return record.path("task_state").isNull();
        }

        String describe() {
            return host() + " (" + vmState() + (idle() ? "" : ", task " + record.path("task_state").asText())
                    + (record.path("fault").isTextual() ? ", fault: " + record.path("fault").asText() : "") + ")";
        }
    }

    MoveState {
        holders = List.copyOf(holders);
        unreachable = List.copyOf(unreachable);
    }

    /** Asks every host of the hosts file for the instance. */
    static MoveState read(CloudCommand.Cloud cloud, UUID uuid) {
        List<Held> held = new ArrayList<>();
        List<String> down = new ArrayList<>();
        for (CloudHosts.Host h : cloud.hosts().hosts()) {
            try {
                JsonNode r = cloud.agent(h.name()).instance(uuid);
                if (r != null && !"deleted".equals(r.path("vm_state").asText())) {
                    held.add(new Held(h.name(), r));
                }
            } catch (CliException.Unreachable e) {
                down.add(h.name());
            }
        }
        return new MoveState(uuid, held, down);
    }

    /** The host whose marker says it is the migration's source, or null. */
    Held source() {
        return withRole("source");
    }

    /** The host whose marker says it is the migration's destination, or null. */
    Held destination() {
        return withRole("destination");
    }

    private Held withRole(String role) {
        return holders.stream().filter(h -> role.equals(h.role())).findFirst().orElse(null);
    }

    /** The one host holding the instance outside any migration; an error naming what was found otherwise. */
    Held settled() {
        if (holders.size() == 1 && holders.get(0).role() == null) {
            return holders.get(0);
        }
        if (holders.isEmpty()) {
            throw new CliException.Failed("instance " + instance + ": no host has it" + unreachableNote());
        }
        if (source() != null || destination() != null) {
            Held m = source() != null ? source() : destination();
            throw new CliException.Failed("instance " + instance + " is in migration " + m.migration() + " ("
                    + describeAll() + "); finish it first: berth cloud confirm " + instance + " or berth cloud revert "
                    + instance);
        }
        throw new CliException.Failed("instance " + instance + " is held by several hosts: " + describeAll()
                + " (delete the stale copies first)");
    }

    /**
     * Refuses to act on a migration while the other host of {@code marked}'s marker did not answer: its side of the
     * move is unknown (a confirm would drop the migration consumer its record still reports; a resume could start a
     * copy it still holds).
     */
    void requirePeerAnswered(Held marked, String verb) {
        if (marked != null && unreachable.contains(marked.peer())) {
            throw new CliException.Failed("instance " + instance + ": " + verb + " of migration " + marked.migration()
                    + " refused: " + marked.peer() + " (the migration's " + ("source".equals(marked.role())
                    ? "destination" : "source") + ") did not answer; bring its agent back (or wait until it answers)"
                    + " and run berth cloud " + verb + " " + instance + " again");
        }
    }

    String describeAll() {
        List<String> out = new ArrayList<>();
        holders.forEach(h -> out.add(h.describe() + (h.role() == null ? "" : " as " + h.role())));
        return String.join(", ", out);
    }

    String unreachableNote() {
        return unreachable.isEmpty() ? "" : " (unreachable: " + String.join(", ", unreachable) + ")";
    }
}
