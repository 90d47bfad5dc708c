package org.berth.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** berth host, drivers, events. */
final class HostCommands {
    private HostCommands() {
    }

    @Command(name = "host", description = "Host info, capacity, status and Placement report (GET /v1/host).",
            subcommands = {Disable.class, Enable.class})
    static final class Host implements Runnable {
        @ParentCommand
        BerthCli root;

        @Override
        public void run() {
            root.show("/v1/host", answer -> {
                JsonNode h = answer.path("host");
                PrintWriter out = root.out();
                out.println("hypervisor_hostname: " + Table.text(h.path("hypervisor_hostname")));
                out.println("hypervisors:         " + Table.join(h.path("hypervisors"), ", ", x -> x.path("driver").asText()
                        + " (" + x.path("hypervisor_type").asText() + ' ' + x.path("hypervisor_version").asText() + ')'));
                out.println("running_vms:         " + Table.text(h.path("running_vms")));
                status(out, h);
                out.println();
                new Table("RESOURCE", "TOTAL", "USED", "LIMIT", "CLAIMED", "FREE")
                        .row("vcpus", h.path("vcpus"), h.path("vcpus_used"), h.at("/limits/vcpus"),
                                h.at("/claimed/vcpus"), h.at("/free/vcpus"))
                        .row("memory_mb", h.path("memory_mb"), h.path("memory_mb_used"), h.at("/limits/memory_mb"),
                                h.at("/claimed/memory_mb"), h.at("/free/memory_mb"))
                        .row("disk_gb", h.path("local_gb"), h.path("local_gb_used"), h.at("/limits/disk_gb"),
                                h.at("/claimed/disk_gb"), h.at("/free/disk_gb"))
                        .print(out);
            });
        }
    }

    private static void status(PrintWriter out, JsonNode h) {
        out.println("status:              " + Table.text(h.path("status"))
                + (h.path("disabled_reason").isTextual() ? " (" + h.path("disabled_reason").asText() + ")" : ""));
        JsonNode p = h.path("placement");
        out.println("placement:           " + Table.text(p.path("state"))
                + (p.path("resource_provider_uuid").isTextual() ? ", provider " + p.path("resource_provider_uuid").asText()
                + ", last success " + Table.text(p.path("last_success")) + ", behind " + p.path("behind_seconds").asLong()
                + " s, " + p.path("pending_changes").asLong() + " pending" : "")
                + (p.path("last_error").isTextual() ? ", error: " + p.path("last_error").asText() : ""));
    }

    private static void changeStatus(BerthCli root, String path, com.fasterxml.jackson.databind.node.ObjectNode body) {
        JsonNode answer = root.client().post(path, body);
        root.print(answer, () -> status(root.out(), answer.path("host")));
        root.out().flush();
    }

    @Command(name = "disable", description = "Take no new instance (409 on spawn) and set COMPUTE_STATUS_DISABLED in "
            + "Placement (POST /v1/host/disable).")
    static final class Disable implements Runnable {
        @ParentCommand
        Host host;

        @Option(names = "--reason", required = true, paramLabel = "TEXT", description = "why (shown with every refused spawn)")
        String reason;

        @Override
        public void run() {
            changeStatus(host.root, "/v1/host/disable", ApiClient.JSON.createObjectNode().put("disabled_reason", reason));
        }
    }

    @Command(name = "enable", description = "Take new instances again (POST /v1/host/enable).")
    static final class Enable implements Runnable {
        @ParentCommand
        Host host;

        @Override
        public void run() {
            changeStatus(host.root, "/v1/host/enable", ApiClient.JSON.createObjectNode());
        }
    }

    @Command(name = "drivers", description = "Enabled drivers, availability and capabilities (GET /v1/drivers).")
    static final class Drivers implements Runnable {
        @ParentCommand
        BerthCli root;

        @Override
        public void run() {
            root.show("/v1/drivers", answer -> {
                Table t = new Table("NAME", "AVAILABLE", "HYPERVISOR", "VERSION", "CAPABILITIES", "ERROR");
                answer.path("drivers").forEach(d -> t.row(d.path("name"), d.path("available"), d.path("hypervisor_type"),
                        d.path("version"), Table.join(d.path("capabilities"), ",", JsonNode::asText), d.path("error")));
                t.print(root.out());
            });
        }
    }

    @Command(name = "events", description = "An instance's event history (GET /v1/instances/{uuid}/events); with "
            + "--follow, every instance's events as they happen (GET /v1/events, Server-Sent Events).")
    static final class Events implements Runnable {
        @ParentCommand
        BerthCli root;

        @Parameters(arity = "0..1", paramLabel = "UUID", description = "the instance (required without --follow; "
                + "with --follow, only its events are printed)")
        String uuid;

        @Option(names = {"-f", "--follow"}, description = "print events as they happen")
        boolean follow;

        @Option(names = "--for", paramLabel = "DURATION", converter = BerthCli.DurationConverter.class,
                description = "with --follow: stop after this long (default: until interrupted)")
        Duration duration;

        @Option(names = "--count", paramLabel = "N", description = "with --follow: stop after N events")
        Integer count;

        @Override
        public void run() {
            if (!follow) {
                if (uuid == null) {
                    throw new IllegalArgumentException("UUID: give an instance, or --follow for the live stream");
                }
                root.show(InstanceCommands.path(uuid) + "/events", answer -> {
                    Table t = new Table("ID", "AT", "KIND", "REQUEST", "DETAIL");
                    answer.path("events").forEach(e -> t.row(e.path("id"), e.path("at"), e.path("kind"),
                            e.path("request_id"), e.path("detail")));
                    t.print(root.out());
                });
                return;
            }
            if (count != null && count < 1) {
                throw new IllegalArgumentException("--count: " + count + " must be at least 1");
            }
            follow();
        }

        private void follow() {
            InputStream in = root.client().stream("/v1/events");
            AtomicBoolean timeUp = new AtomicBoolean();
            Thread timer = null;
            if (duration != null) {
                // a blocked read only ends when the stream is closed under it
                timer = Thread.ofPlatform().daemon().name("berth-events-timer").start(() -> {
                    try {
                        Thread.sleep(duration);
                        timeUp.set(true);
                        in.close();
                    } catch (InterruptedException | IOException e) {
                        // stopped early: the count was reached
                    }
                });
            }
            int printed = 0;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String data = null;
                for (String line; (line = r.readLine()) != null; ) {
                    if (line.startsWith("data:")) {
                        data = line.substring(5).strip();
                    } else if (line.isEmpty() && data != null) {
                        if (print(data) && count != null && ++printed >= count) {
                            return;
                        }
                        data = null;
                    }
                }
                if (!timeUp.get()) {
                    throw new CliException.Unreachable("/v1/events", "the agent closed the event stream");
                }
            } catch (IOException e) {
                if (!timeUp.get()) {
                    throw new CliException.Unreachable("/v1/events", String.valueOf(e.getMessage()));
                }
            } finally {
                if (timer != null) {
                    timer.interrupt();
                }
            }
        }

        /** One event; false when filtered out by the uuid. */
        private boolean print(String data) {
            JsonNode e;
            try {
                e = ApiClient.JSON.readTree(data);
            } catch (IOException bad) {
                return false;
            }
            if (uuid != null && !uuid.equalsIgnoreCase(e.path("uuid").asText())) {
                return false;
            }
            PrintWriter out = root.out();
            if (root.json()) {
                out.println(e.toString());
            } else {
                out.println(Table.text(e.path("at")) + "  " + Table.text(e.path("uuid")) + "  " + Table.text(e.path("kind"))
                        + "  " + Table.text(e.path("detail")));
            }
            out.flush();
            return true;
        }
    }
}
