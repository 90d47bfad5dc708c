package org.berth.agent.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** The instance actions: POST /v1/instances/{uuid}/action with one verb. */
final class ActionCommands {
    private ActionCommands() {
    }

    /** One verb, named as its command; its JSON argument is null unless the verb takes one. */
    abstract static class Verb implements Runnable {
        @ParentCommand
        BerthCli root;

        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "UUID", index = "0")
        String uuid;

        @Mixin
        InstanceCommands.WaitOptions waitOptions;

        ObjectNode argument() {
            return null;
        }

        @Override
        public void run() {
            ObjectNode body = ApiClient.JSON.createObjectNode().set(spec.name(), argument()); // null: {"verb": null}
            waitOptions.finish(root, root.client().post(InstanceCommands.path(uuid) + "/action", body));
        }
    }

    @Command(name = "reboot", description = "Reboot (soft: ACPI, then hard after the driver's timeout).")
    static final class Reboot extends Verb {
        @Option(names = "--hard", description = "reset at once")
        boolean hard;

        @Override
        ObjectNode argument() {
            return ApiClient.JSON.createObjectNode().put("type", hard ? "HARD" : "SOFT");
        }
    }

    @Command(name = "pause", description = "Freeze the instance in memory.")
    static final class Pause extends Verb {
    }

    @Command(name = "unpause", description = "Thaw a paused instance.")
    static final class Unpause extends Verb {
    }

    @Command(name = "suspend", description = "Save the instance's state and stop it.")
    static final class Suspend extends Verb {
    }

    @Command(name = "resume", description = "Resume a suspended instance.")
    static final class Resume extends Verb {
    }

    @Command(name = "stop", description = "Power off.")
    static final class Stop extends Verb {
    }

    @Command(name = "start", description = "Power on.")
    static final class Start extends Verb {
    }

    @Command(name = "snapshot", description = "Snapshot into a new image (its id is in the instance's events).")
    static final class Snapshot extends Verb {
        @Parameters(paramLabel = "NAME", index = "1", description = "the new image's name")
        String name;

        @Override
        ObjectNode argument() {
            return ApiClient.JSON.createObjectNode().put("name", name);
        }
    }
}
