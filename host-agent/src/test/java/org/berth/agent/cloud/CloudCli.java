package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.berth.agent.cli.BerthCli;

/**
 * {@code berth cloud ...} run in this JVM ({@link BerthCli#run}, a CLI of its own per call, as a separate process
 * would be) against a hosts file; for the lab tests and benches.
 */
public record CloudCli(Path hostsFile) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One command's exit code and output. */
    public record Run(int code, String out, String err) {
        public JsonNode json() {
            try {
                return JSON.readTree(out);
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON (exit " + code + ", stderr " + err + "): " + out, e);
            }
        }

        @Override
        public String toString() {
            return "exit " + code + "\nstdout: " + out + "\nstderr: " + err;
        }
    }

    /** {@code berth --json cloud ARGS...} (with --json: the answers are read as JSON). */
    public Run json(String... args) {
        List<String> all = new ArrayList<>(List.of("--json", "cloud"));
        all.addAll(List.of(args));
        return run(all);
    }

    /** {@code berth cloud ARGS...}. */
    public Run text(String... args) {
        List<String> all = new ArrayList<>(List.of("cloud"));
        all.addAll(List.of(args));
        return run(all);
    }

    private Run run(List<String> args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = BerthCli.run(args.toArray(String[]::new), new PrintWriter(out), new PrintWriter(err),
                Map.of("BERTH_CLOUD_HOSTS", hostsFile.toString()));
        return new Run(code, out.toString(), err.toString());
    }
}
