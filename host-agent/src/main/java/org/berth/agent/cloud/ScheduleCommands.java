package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.berth.agent.cli.ApiClient;
import org.berth.agent.cli.BerthCli;
import org.berth.agent.cli.CliException;
import org.berth.agent.cli.InstanceCommands;
import org.berth.agent.cli.Table;
import org.berth.agent.placement.Traits;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code berth cloud spawn, hosts, list, delete}: scheduling over Placement and the hosts file's agents. */
public final class ScheduleCommands {
    private static final List<String> COLUMNS = List.of("host", "uuid", "name", "driver", "vm_state", "power_state",
            "task_state");
    private static final SecureRandom RANDOM = new SecureRandom();

    private ScheduleCommands() {
    }

    @Command(name = "spawn", description = "Schedule a spawn: Placement's candidates, weighed by free RAM, claimed, "
            + "sent to the chosen host's agent; rescheduled on another host if it fails there.")
    public static final class Spawn implements Callable<Integer> {
        @ParentCommand
        CloudCommand parent;

        @Mixin
        InstanceCommands.SpawnOptions options;

        @Mixin
        InstanceCommands.WaitOptions waitOptions;

        @Option(names = "--max-attempts", paramLabel = "N", defaultValue = "3",
                description = "hosts to try the spawn on at most (Nova's max_attempts; default: 3)")
        int maxAttempts;

        @Override
        public Integer call() {
            BerthCli root = parent.root();
            CloudCommand.Cloud cloud = parent.cloud();
            ObjectNode body = options.body(name -> null); // an image name is resolved on the host chosen
            UUID uuid = uuid(body.path("uuid").asText(null));
            Scheduler s = new Scheduler(cloud.placement(), cloud.hosts().hosts().stream()
                    .map(CloudHosts.Host::name).collect(Collectors.toSet()), Scheduler.Hosts.of(cloud), RANDOM);
            Scheduler.Placed p = s.schedule(new Scheduler.Request(uuid, body, maxAttempts, waitOptions.waits(),
                    waitOptions.limit(), (host, b) -> {
                        if (options.imageIsName()) {
                            b.put("image_id", imageOn(cloud, host, options.image()));
                        }
                    }));
            // the spec copies evacuate rebuilds from if this host dies; a spawn never fails because of them
            replicaWarning(parent, Replicas.publishQuietly(cloud, p.host(), uuid));
            ObjectNode answer = ApiClient.JSON.createObjectNode();
            answer.put("host", p.host());
            answer.set("instance", p.instance());
            ArrayNode attempts = answer.putArray("attempts");
            for (Scheduler.Attempt a : p.attempts()) {
                attempts.addObject().put("host", a.host()).put("outcome", a.outcome()).put("reason", a.reason());
            }
            root.print(answer, () -> {
                PrintWriter out = root.out();
                out.println("host: " + p.host());
                p.attempts().stream().filter(a -> a.reason() != null).forEach(a ->
                        out.println("  " + a.outcome() + " on " + a.host() + ": " + a.reason()));
                ObjectNode row = p.instance().deepCopy();
                row.put("host", p.host());
                Table.of(List.of(row), COLUMNS).print(out);
            });
            return 0;
        }

        private static UUID uuid(String text) {
            if (text == null) {
                return UUID.randomUUID();
            }
            try {
                return UUID.fromString(text);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--uuid: '" + text + "' must be a UUID");
            }
        }

        /** The image of that name on the host; a host that has none is skipped (the scheduler notes why). */
        private static String imageOn(CloudCommand.Cloud cloud, String host, String name) {
            try {
                return InstanceCommands.imageByName(cloud.agent(host).api(), name);
            } catch (CliException e) {
                throw new IllegalArgumentException("--image: " + host + " could not be asked: " + e.getMessage());
            }
        }
    }

    @Command(name = "hosts", description = "Every host: its agent, its Placement provider, status, capacity, used "
            + "and free per class, and its instances.")
    public static final class Hosts implements Callable<Integer> {
        @ParentCommand
        CloudCommand parent;

        @Override
        public Integer call() {
            BerthCli root = parent.root();
            CloudCommand.Cloud cloud = parent.cloud();
            ObjectNode answer = ApiClient.JSON.createObjectNode();
            ArrayNode list = answer.putArray("hosts");
            Table t = new Table("HOST", "AGENT", "PROVIDER", "STATUS", "VCPU", "MEMORY_MB", "DISK_GB", "INSTANCES");
            for (CloudHosts.Host h : cloud.hosts().hosts()) {
                ObjectNode n = list.addObject().put("name", h.name());
                AgentCalls agent = cloud.agent(h.name());
                Integer count = null;
                try {
                    count = agent.instances().size();
                } catch (CliException e) {
                    n.put("agent_error", e.getMessage());
                }
                n.put("reachable", count != null);
                if (count == null) {
                    n.putNull("instances");
                } else {
                    n.put("instances", count);
                }
                Optional<CloudPlacement.Provider> p = cloud.placement().provider(h.name());
                n.put("provider_uuid", p.map(x -> x.uuid().toString()).orElse(null));
                String status = p.isEmpty() ? "no provider"
                        : cloud.placement().traits(p.get().uuid()).contains(Traits.DISABLED) ? "disabled" : "enabled";
                n.put("status", status);
                Map<String, CloudPlacement.Usage> usage = p.map(x -> cloud.placement().usages(x.uuid())).orElse(Map.of());
                ObjectNode res = n.putObject("resources");
                List<String> cells = new ArrayList<>(List.of(h.name(), count == null ? "unreachable" : "up",
                        p.map(x -> x.uuid().toString()).orElse("-"), status));
                for (String rc : CloudPlacement.CLASSES) {
                    CloudPlacement.Usage u = usage.get(rc);
                    if (u != null) {
                        res.putObject(rc).put("capacity", u.capacity()).put("used", u.used()).put("free", u.free());
                    }
                    cells.add(u == null ? "-" : u.used() + "/" + u.capacity() + " (" + u.free() + " free)");
                }
                cells.add(count == null ? "?" : count.toString());
                t.row(cells.toArray());
            }
            root.print(answer, () -> t.print(root.out()));
            return 0;
        }
    }

    @Command(name = "list", description = "Every instance of every reachable host, with its HOST (hosts that did "
            + "not answer are named on stderr).")
    public static final class ListAll implements Callable<Integer> {
        @ParentCommand
        CloudCommand parent;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            BerthCli root = parent.root();
            CloudCommand.Cloud cloud = parent.cloud();
            ObjectNode answer = ApiClient.JSON.createObjectNode();
            ArrayNode all = answer.putArray("instances");
            ArrayNode silent = answer.putArray("unreachable");
            for (CloudHosts.Host h : cloud.hosts().hosts()) {
                try {
                    for (JsonNode i : cloud.agent(h.name()).instances()) {
                        ObjectNode row = ((ObjectNode) i).deepCopy();
                        row.put("host", h.name());
                        all.add(row);
                    }
                } catch (CliException e) {
                    silent.add(h.name());
                    spec.commandLine().getErr().println("berth: " + h.name() + " did not answer: " + e.getMessage());
                }
            }
            spec.commandLine().getErr().flush();
            root.print(answer, () -> Table.of(all, COLUMNS).print(root.out()));
            return silent.size() == cloud.hosts().hosts().size() ? BerthCli.EXIT_UNREACHABLE : 0;
        }
    }

    @Command(name = "delete", description = "Delete an instance on whichever host has it (waits until it is gone), "
            + "then its Placement allocations (DELETE /allocations/{uuid}). Refused while a host that does not answer holds "
            + "a part of them (unless --force).")
    public static final class Delete implements Callable<Integer> {
        @ParentCommand
        CloudCommand parent;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(paramLabel = "UUID")
        String uuidText;

        @Option(names = "--wait-timeout", paramLabel = "DURATION", defaultValue = "5m",
                converter = BerthCli.DurationConverter.class, description = "how long each host's delete may take "
                + "(default: 5m)")
        Duration limit;

        @Option(names = "--force", description = "delete even when a host that does not answer still holds a part of "
                + "the instance's allocations (its stale copy would come back with it)")
        boolean force;

        @Override
        public Integer call() {
            UUID uuid;
            try {
                uuid = UUID.fromString(uuidText);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("UUID: '" + uuidText + "' must be a UUID");
            }
            BerthCli root = parent.root();
            CloudCommand.Cloud cloud = parent.cloud();
            if (!force) {
                refuseWhileAPartIsOnASilentHost(cloud, uuid);
            }
            List<String> deletedOn = new ArrayList<>();
            List<String> silent = new ArrayList<>();
            for (CloudHosts.Host h : cloud.hosts().hosts()) {
                AgentCalls agent = cloud.agent(h.name());
                try {
                    if (agent.instance(uuid) != null && agent.deleteAndWait(uuid, limit)) {
                        deletedOn.add(h.name());
                    }
                } catch (CliException.Unreachable e) {
                    silent.add(h.name());
                    spec.commandLine().getErr().println("berth: " + h.name() + " did not answer: " + e.getMessage());
                }
            }
            boolean released = cloud.placement().release(uuid); // the agents remove their part too: 404 is fine
            replicaWarning(parent, Replicas.withdraw(cloud, uuid).warning());
            if (deletedOn.isEmpty() && !released) {
                throw new CliException.Failed("no host has instance " + uuid + " and Placement has no allocation for it"
                        + (silent.isEmpty() ? "" : " (did not answer: " + String.join(", ", silent) + ")"));
            }
            if (root.json()) {
                ObjectNode n = ApiClient.JSON.createObjectNode().put("deleted", uuid.toString());
                deletedOn.forEach(n.putArray("hosts")::add);
                n.put("allocations_released", released);
                root.out().println(n.toPrettyString());
            } else {
                root.out().println("deleted " + uuid + (deletedOn.isEmpty() ? " (no host had it; its allocations "
                        + "are released)" : " on " + String.join(", ", deletedOn)));
            }
            root.out().flush();
            return silent.isEmpty() ? 0 : BerthCli.EXIT_UNREACHABLE;
        }
    }

    /**
     * Refuses unless every provider holding a part of the instance's consumer is a host whose agent answers: a host
     * that does not answer (e.g. the dead source of an evacuated instance) would, once back, see only its own part
     * and start its stale copy, since the release takes the consumer away.
     */
    static void refuseWhileAPartIsOnASilentHost(CloudCommand.Cloud cloud, UUID uuid) {
        Set<UUID> held = cloud.placement().consumer(uuid).allocations().keySet();
        if (held.isEmpty()) {
            return;
        }
        Map<UUID, String> names = new HashMap<>();
        cloud.placement().providers().forEach(p -> names.put(p.uuid(), p.name()));
        for (UUID provider : held) {
            String name = names.getOrDefault(provider, provider.toString());
            boolean answers = cloud.hosts().find(name).isPresent() && cloud.agent(name).reachable();
            if (!answers) {
                throw new CliException.Failed("instance " + uuid + " still holds a part on " + name + ", which does "
                        + "not answer (its stale copy would come back); bring " + name + " back first, or --force");
            }
        }
    }

    /** Prints a replica spread's warning, if any, on standard error (the command still succeeds). */
    static void replicaWarning(CloudCommand parent, String warning) {
        if (!warning.isEmpty()) {
            parent.spec.commandLine().getErr().println("berth: warning: " + warning);
            parent.spec.commandLine().getErr().flush();
        }
    }
}
