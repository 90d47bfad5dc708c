package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.node.ArrayNode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import org.berth.agent.cli.ApiClient;
import org.berth.agent.cli.BerthCli;
import org.berth.agent.cli.Table;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code berth cloud evacuate HOST [--to HOST2]}: rebuild a dead host's instances elsewhere (see {@link Evacuate}). */
@Command(name = "evacuate", description = {"Rebuild every instance of a host that is down on other hosts (same uuid, "
        + "ports, MACs, addresses), from its image and its spec replica.",
        "Refused unless the host's agent does not answer AND its OVN chassis is gone from the southbound DB."})
public final class EvacuateCommand implements Callable<Integer> {
    @ParentCommand
    CloudCommand parent;

    @Parameters(index = "0", paramLabel = "HOST", description = "the dead host (its name in the hosts file)")
    String host;

    @Option(names = "--to", paramLabel = "HOST2", description = "rebuild everything on this host (default: schedule "
            + "each instance through Placement, most free RAM first)")
    String to;

    @Option(names = "--wait-timeout", paramLabel = "DURATION", defaultValue = "300s",
            converter = BerthCli.DurationConverter.class,
            description = "how long to wait for each rebuilt instance to become active (default 300s)")
    Duration waitTimeout;

    @Override
    public Integer call() {
        BerthCli root = parent.root();
        List<Evacuate.Row> rows = new Evacuate(parent.cloud(), waitTimeout, new OvnSouthbound()).run(host, to);
        ArrayNode json = ApiClient.JSON.createArrayNode();
        rows.forEach(r -> json.addObject().put("uuid", r.uuid().toString()).put("from", r.from()).put("to", r.to())
                .put("result", r.result()).put("ok", r.ok()));
        root.print(json, () -> {
            Table t = new Table("UUID", "FROM", "TO", "RESULT");
            rows.forEach(r -> t.row(r.uuid(), r.from(), r.to(), r.result()));
            t.print(root.out());
            root.out().println(rows.isEmpty() ? host + ": nothing allocated there"
                    : rows.stream().filter(Evacuate.Row::ok).count() + " of " + rows.size() + " rebuilt");
            root.out().flush();
        });
        return rows.stream().allMatch(Evacuate.Row::ok) ? 0 : BerthCli.EXIT_API_ERROR;
    }
}
