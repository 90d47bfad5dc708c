package org.berth.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/** berth token rotate. */
@Command(name = "token", description = "The agent's bearer token.", subcommands = TokenCommands.Rotate.class)
final class TokenCommands implements Runnable {
    @ParentCommand
    BerthCli root;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: rotate");
    }

    @Command(name = "rotate", description = "Replace the agent's token: the old one is refused from the next request "
            + "on; the new one is in the agent's token file (POST /v1/token/rotate).")
    static final class Rotate implements Runnable {
        @ParentCommand
        TokenCommands token;

        @Override
        public void run() {
            BerthCli root = token.root;
            JsonNode answer = root.client().post("/v1/token/rotate", ApiClient.JSON.createObjectNode());
            // the table never prints the token itself (--json prints the answer, which carries it only over TLS)
            root.print(answer, () -> root.out().println("token rotated: the old token no longer works; the new one "
                    + "is in " + answer.path("token_file").asText("the agent's token file") + " on the agent's host"));
            root.out().flush();
        }
    }
}
