package org.berth.agent.cloud;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import org.berth.agent.cli.BerthCli;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.ScopeType;

/**
 * {@code berth cloud}: several hosts as one small cloud, stateless. The hosts are Placement resource providers; their
 * agents' URLs, tokens and TLS files come from the hosts file ({@code --hosts}, default {@code $BERTH_CLOUD_HOSTS}:
 * the lab writes its {@code lab.json}). Placement holds every claim; each agent holds its own instances; there is no
 * cluster database. Subcommands reach the hosts file, Placement and the agents through {@link #cloud()}.
 */
@Command(name = "cloud", description = "Several hosts as one cloud: schedule through Placement, move, evacuate.",
        subcommands = {ScheduleCommands.Spawn.class, ScheduleCommands.Hosts.class, ScheduleCommands.ListAll.class,
                ScheduleCommands.Delete.class, EvacuateCommand.class,
                MoveCommands.Migrate.class, MoveCommands.Resize.class, MoveCommands.Confirm.class, MoveCommands.Revert.class, MoveCommands.Rebuild.class},
        footer = {"", "Environment: BERTH_CLOUD_HOSTS (the hosts file, e.g. the lab's lab.json)."})
public final class CloudCommand implements Callable<Integer> {
    @ParentCommand
    BerthCli root;

    @Option(names = "--hosts", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "the hosts file: Placement, TLS files and every host's agent (default: $BERTH_CLOUD_HOSTS)")
    Path hostsFile;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private Cloud cloud;

    /** {@code berth cloud} alone: the usage, as an error. */
    @Override
    public Integer call() {
        spec.commandLine().getErr().println("berth cloud: a subcommand is required");
        spec.commandLine().usage(spec.commandLine().getErr());
        return BerthCli.EXIT_USAGE;
    }

    /** The command line this runs under (output, --json, --timeout). */
    public BerthCli root() {
        return root;
    }

    /** The hosts file read and checked, Placement's client and the agents' (made once per command). */
    public synchronized Cloud cloud() {
        if (cloud == null) {
            Path file = hostsFile;
            if (file == null) {
                String v = root.env().get("BERTH_CLOUD_HOSTS");
                if (v == null || v.isBlank()) {
                    throw new IllegalArgumentException("--hosts: none given and BERTH_CLOUD_HOSTS is not set "
                            + "(the lab's is /var/tmp/berth-lab/lab.json)");
                }
                file = Path.of(v.strip());
            }
            cloud = new Cloud(CloudHosts.load(file), root.timeout());
        }
        return cloud;
    }

    /**
     * What one {@code berth cloud} command works with: the hosts file, Placement, and one {@link AgentCalls} per host
     * (made on first use). Thread-safe.
     */
    public static final class Cloud {
        private final CloudHosts hosts;
        private final CloudPlacement placement;
        private final Duration timeout;
        private final Map<String, AgentCalls> agents = new ConcurrentHashMap<>();

        public Cloud(CloudHosts hosts, Duration timeout) {
            this.hosts = hosts;
            this.timeout = timeout;
            this.placement = CloudPlacement.of(hosts, timeout);
        }

        public CloudHosts hosts() {
            return hosts;
        }

        public CloudPlacement placement() {
            return placement;
        }

        /** The bound on each request to Placement or an agent. */
        public Duration timeout() {
            return timeout;
        }

        /** The agent of the host of that name (an error naming the known hosts if the file has none). */
        public AgentCalls agent(String host) {
            return agents.computeIfAbsent(host, h -> new AgentCalls(hosts, hosts.host(h), timeout));
        }
    }
}
