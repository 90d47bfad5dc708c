package org.berth.agent.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.berth.agent.console.ConsoleService;
import org.berth.agent.console.SessionKind;
import org.berth.agent.console.Ticket;
import org.berth.driver.api.ExecSpec;

/**
 * {@code POST /v1/instances/{uuid}/console} and {@code POST /v1/instances/{uuid}/exec}: a one-use ticket and the
 * WebSocket URL to open with it ({@code GET} the same path with {@code ?ticket=}). The exec body is the command:
 * <pre>{"exec": {"command": ["sh", "-c", "exit 3"], "env": {"K": "V"}, "working_dir": "/", "tty": false,
 *           "columns": 80, "rows": 24}}</pre>
 */
final class ConsoleRoutes {
    private static final Set<String> EXEC_FIELDS = Set.of("command", "env", "working_dir", "tty", "columns", "rows");

    private final ConsoleService consoles;

    ConsoleRoutes(ConsoleService consoles) {
        this.consoles = consoles;
    }

    int openSessions() {
        return consoles.openSessions();
    }

    Response ticket(Request r, UUID uuid, SessionKind kind) {
        Optional<ExecSpec> exec = Optional.empty();
        if (kind == SessionKind.EXEC) {
            Routes.requireJson(r);
            exec = Optional.of(execSpec(Views.parse(r.body())));
        } else if (r.body().length > 0) {
            JsonNode b = Views.parse(r.body());
            if (!b.isObject() || !b.isEmpty()) {
                throw new ApiError(400, "body", "empty", "body: a console ticket takes no options (send nothing or {})");
            }
        }
        Ticket t = consoles.issue(uuid, kind, exec, r.peer());
        ObjectNode out = Views.MAPPER.createObjectNode();
        ObjectNode n = out.putObject(kind.word());
        n.put("ticket", t.id());
        n.put("url", "/v1/instances/" + uuid + "/" + kind.word() + "?ticket=" + t.id());
        n.put("expires_at", t.expiresAt().toString());
        return Response.json(201, out);
    }

    static ExecSpec execSpec(JsonNode body) {
        if (!body.isObject() || body.size() != 1 || !body.has("exec") || !body.get("exec").isObject()) {
            throw new ApiError(400, "exec", "required", "body: must be {\"exec\": {\"command\": [...], ...}}");
        }
        JsonNode e = body.get("exec");
        for (Iterator<String> it = e.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!EXEC_FIELDS.contains(f)) {
                throw new ApiError(400, "exec." + f, "unknown", "exec." + f + ": unknown field; known: "
                        + String.join(", ", EXEC_FIELDS.stream().sorted().toList()));
            }
        }
        JsonNode c = e.get("command");
        if (c == null || !c.isArray()) {
            throw new ApiError(400, "exec.command", "required", "exec.command: must be a list of strings, the "
                    + "program first");
        }
        List<String> argv = new ArrayList<>();
        for (JsonNode a : c) {
            if (!a.isTextual()) {
                throw new ApiError(400, "exec.command", "type", "exec.command: every entry must be a string");
            }
            argv.add(a.asText());
        }
        Map<String, String> env = new LinkedHashMap<>();
        JsonNode en = e.get("env");
        if (en != null && !en.isNull()) {
            if (!en.isObject()) {
                throw new ApiError(400, "exec.env", "type", "exec.env: must be an object of name: string");
            }
            en.properties().forEach(kv -> {
                if (!kv.getValue().isTextual()) {
                    throw new ApiError(400, "exec.env." + kv.getKey(), "type", "exec.env." + kv.getKey()
                            + ": must be a string");
                }
                env.put(kv.getKey(), kv.getValue().asText());
            });
        }
        JsonNode wd = e.get("working_dir");
        if (wd != null && !wd.isNull() && !wd.isTextual()) {
            throw new ApiError(400, "exec.working_dir", "type", "exec.working_dir: must be a string");
        }
        JsonNode tty = e.get("tty");
        if (tty != null && !tty.isNull() && !tty.isBoolean()) {
            throw new ApiError(400, "exec.tty", "type", "exec.tty: must be true or false");
        }
        return new ExecSpec(argv, env, Optional.ofNullable(wd == null || wd.isNull() ? null : wd.asText()),
                tty != null && tty.asBoolean(), size(e, "columns", 80), size(e, "rows", 24));
    }

    private static int size(JsonNode e, String field, int fallback) {
        JsonNode n = e.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isIntegralNumber() || n.asLong() < 1 || n.asLong() > 1000) {
            throw new ApiError(400, "exec." + field, "range", "exec." + field + ": '" + n.asText()
                    + "' must be a whole number from 1 to 1000");
        }
        return n.asInt();
    }
}
