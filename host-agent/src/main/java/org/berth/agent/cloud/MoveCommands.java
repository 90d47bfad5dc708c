package org.berth.agent.cloud;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.UUID;
import java.util.function.Function;
import org.berth.agent.cli.BerthCli;
import org.berth.agent.cli.CliException;
import org.berth.agent.placement.PlacementException;
import org.berth.driver.api.Flavor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code berth cloud migrate | resize | confirm | revert | rebuild}: Nova's cold migration, resize and rebuild through
 * {@link Moves}. Each prints what it did (one line per step; under --json one JSON object at the end).
 */
public final class MoveCommands {
    /**
     * What confirm, revert and rebuild tell when an instance settled on a host: evacuate's spec replicas are
     * republished from that host's record (as berth cloud spawn publishes them).
     */
    static final MoveHook SETTLED = MoveHook.REPLICAS;

    private MoveCommands() {
    }

    /** The parts every move command shares: the parent, the instance, --wait-timeout, and the run. */
    abstract static class MoveCommand implements Runnable {
        @ParentCommand
        CloudCommand parent;

        @Parameters(paramLabel = "UUID", index = "0", description = "the instance")
        String uuid;

        @Option(names = "--wait-timeout", paramLabel = "DURATION", defaultValue = "10m",
                converter = BerthCli.DurationConverter.class,
                description = "how long each step's wait for an agent may take (default: 10m)")
        Duration waitTimeout;

        UUID instance() {
            try {
                return UUID.fromString(uuid);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("UUID: '" + uuid + "' must be an instance's UUID");
            }
        }

        void run(Function<Moves, Moves.Moved> what) {
            BerthCli root = parent.root();
            PrintWriter out = root.out();
            Moves moves = new Moves(parent.cloud(), waitTimeout, line -> {
                if (!root.json()) {
                    out.println(line);
                    out.flush();
                }
            }, SETTLED);
            Moves.Moved done;
            try {
                done = what.apply(moves);
            } catch (PlacementException e) {
                throw new CliException.Failed("Placement: " + e.getMessage());
            }
            if (root.json()) {
                out.println(done.toJson().toPrettyString());
                out.flush();
            }
        }
    }

    @Command(name = "migrate", description = "Cold-migrate an instance to another host (Placement picks it unless "
            + "--host), or finish a migration that was cut off; then confirm or revert.")
    static final class Migrate extends MoveCommand {
        @Option(names = "--host", paramLabel = "HOST", description = "the destination (default: Placement's "
                + "candidate with the most free RAM)")
        String host;

        @Override
        public void run() {
            run(m -> m.migrate(instance(), host, null));
        }
    }

    @Command(name = "resize", description = "Move an instance to another flavor (a migration with the new flavor "
            + "claimed on the destination); then confirm or revert.")
    static final class Resize extends MoveCommand {
        @Option(names = "--flavor", required = true, paramLabel = "NAME", description = "the new flavor's name")
        String flavor;

        @Option(names = "--vcpus", required = true, paramLabel = "N")
        int vcpus;

        @Option(names = "--memory-mb", required = true, paramLabel = "MB")
        int memoryMb;

        @Option(names = "--root-gb", paramLabel = "GB", description = "default: the current flavor's")
        Integer rootGb;

        @Option(names = "--host", paramLabel = "HOST", description = "the destination (default: Placement's pick)")
        String host;

        @Option(names = "--allow-same-host", description = "Nova's allow_resize_to_same_host (not supported yet: "
                + "refused)")
        boolean allowSameHost;

        @Override
        public void run() {
            if (allowSameHost) {
                throw new IllegalArgumentException("--allow-same-host: a resize on the same host is not supported by "
                        + "this version; resize to another host (leave --host out or name another one)");
            }
            UUID u = instance();
            run(m -> m.migrate(u, host, newFlavor(u)));
        }

        private Flavor newFlavor(UUID u) {
            int root = rootGb != null ? rootGb : MoveState.read(parent.cloud(), u).holders().stream().findFirst()
                    .map(h -> h.record().at("/spec/flavor/root_gb").asInt()).orElse(0);
            return new Flavor(flavor, vcpus, memoryMb, root, 0, 0);
        }
    }

    @Command(name = "confirm", description = "Confirm a migration or resize: the source's copy is destroyed and its "
            + "usage freed in Placement.")
    static final class Confirm extends MoveCommand {
        @Override
        public void run() {
            run(m -> m.confirm(instance()));
        }
    }

    @Command(name = "revert", description = "Revert a migration or resize: the destination's copy is deleted, "
            + "Placement moved back, the source's copy runs again.")
    static final class Revert extends MoveCommand {
        @Override
        public void run() {
            run(m -> m.revert(instance()));
        }
    }

    @Command(name = "rebuild", description = "Rebuild an instance on its host from its image or another one (same "
            + "uuid, ports, MACs, addresses, flavor).")
    static final class Rebuild extends MoveCommand {
        @Option(names = "--image", paramLabel = "ID|NAME", description = "the image (default: the one it has)")
        String image;

        @Override
        public void run() {
            run(m -> m.rebuild(instance(), image));
        }
    }
}
