package org.berth.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** berth list, show, spawn, delete, console. */
public final class InstanceCommands {
    private static final String UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

    private InstanceCommands() {
    }

    static String path(String uuid) {
        return "/v1/instances/" + ApiClient.segment(uuid);
    }

    /** The fields a table of instances shows. */
    private static final java.util.List<String> COLUMNS =
            java.util.List.of("uuid", "name", "driver", "vm_state", "power_state", "task_state");

    /** Prints an instance answer ({"instance": ...}) as a table row or JSON. */
    static void printInstance(BerthCli root, JsonNode answer) {
        root.print(answer, () -> Table.of(java.util.List.of(answer.path("instance")), COLUMNS).print(root.out()));
    }

    /** Polls the instance until its task has finished (or, when deleting, until it is gone). */
    static JsonNode await(BerthCli root, String uuid, Duration limit, boolean gone) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            try {
                JsonNode answer = root.client().get(path(uuid));
                if (!gone && answer.at("/instance/task_state").isNull()) {
                    return answer;
                }
            } catch (CliException.ApiAnswered e) {
                if (gone && e.status() == 404) {
                    return null;
                }
                throw e;
            }
            if (System.nanoTime() > deadline) {
                throw new CliException.Unreachable(path(uuid), "its task did not finish within " + limit.toSeconds()
                        + " s (--wait-timeout)");
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CliException.Unreachable(path(uuid), "interrupted");
            }
        }
    }

    /** --wait and --wait-timeout, shared by the commands that start a task (and by berth cloud spawn). */
    public static final class WaitOptions {
        @Option(names = "--wait", description = "wait until the instance's task has finished, then print it")
        boolean wait;

        @Option(names = "--wait-timeout", paramLabel = "DURATION", defaultValue = "5m",
                converter = BerthCli.DurationConverter.class, description = "how long --wait waits (default: 5m)")
        Duration limit;

        public boolean waits() {
            return wait;
        }

        public Duration limit() {
            return limit;
        }

        void finish(BerthCli root, JsonNode accepted) {
            printInstance(root, wait ? await(root, accepted.at("/instance/uuid").asText(), limit, false) : accepted);
        }
    }

    @Command(name = "list", description = "Instances (GET /v1/instances).")
    static final class List implements Runnable {
        @ParentCommand
        BerthCli root;

        @Option(names = "--driver", paramLabel = "NAME", description = "only this driver's instances")
        String driver;

        @Override
        public void run() {
            root.show("/v1/instances" + (driver == null ? "" : "?" + ApiClient.query(Map.of("driver", driver))),
                    answer -> Table.of(answer.path("instances"), COLUMNS).print(root.out()));
        }
    }

    @Command(name = "show", description = "One instance with its spec (GET /v1/instances/{uuid}).")
    static final class Show implements Runnable {
        @ParentCommand
        BerthCli root;

        @Parameters(paramLabel = "UUID")
        String uuid;

        @Override
        public void run() {
            root.show(path(uuid), answer -> Table.fields(root.out(), answer.path("instance")));
        }
    }

    @Command(name = "delete", description = "Destroy an instance (DELETE /v1/instances/{uuid}).")
    static final class Delete implements Runnable {
        @ParentCommand
        BerthCli root;

        @Parameters(paramLabel = "UUID")
        String uuid;

        @picocli.CommandLine.Mixin
        WaitOptions waitOptions;

        @Override
        public void run() {
            JsonNode answer = root.client().delete(path(uuid));
            if (waitOptions.wait) {
                await(root, uuid, waitOptions.limit, true);
                root.printDeleted(uuid, "deleted " + uuid);
                return;
            }
            printInstance(root, answer);
        }
    }

    @Command(name = "spawn", description = "Spawn an instance (POST /v1/instances) from options or --file SPEC.json "
            + "(the request body; options given as well override its fields).")
    static final class Spawn implements Runnable {
        @ParentCommand
        BerthCli root;

        @picocli.CommandLine.Mixin
        SpawnOptions options;

        @picocli.CommandLine.Mixin
        WaitOptions waitOptions;

        @Override
        public void run() {
            waitOptions.finish(root, root.client().post("/v1/instances",
                    options.body(name -> imageByName(root.client(), name))));
        }
    }

    /**
     * The options that make a spawn request body ({@code berth spawn}, and {@code berth cloud spawn}, which resolves
     * an image name on the host it chooses).
     */
    public static final class SpawnOptions {
        @Option(names = "--file", paramLabel = "SPEC.json", description = "the spawn request as JSON")
        Path file;

        @Option(names = "--driver", paramLabel = "NAME", description = "docker, kvm, ... (see berth drivers)")
        String driver;

        @Option(names = "--name", paramLabel = "NAME")
        String name;

        @Option(names = "--image", paramLabel = "ID|NAME", description = "image id, or a name that one image has")
        String image;

        @Option(names = "--flavor", paramLabel = "NAME", description = "flavor name (default: custom)")
        String flavor;

        @Option(names = "--vcpus", paramLabel = "N")
        Integer vcpus;

        @Option(names = "--memory-mb", paramLabel = "MB")
        Integer memoryMb;

        @Option(names = "--root-gb", paramLabel = "GB")
        Integer rootGb;

        @Option(names = "--nic", paramLabel = "port_id=UUID,mac=MAC[,ip=CIDR...][,bridge=B][,mtu=N][,vlan=N][,gateway=IP]",
                description = "a VIF; repeat for more")
        java.util.List<String> nics = new ArrayList<>();

        @Option(names = "--property", paramLabel = "KEY=VALUE", description = "instance property; repeat for more")
        Map<String, String> properties = new LinkedHashMap<>();

        @Option(names = "--uuid", paramLabel = "UUID", description = "the instance's uuid (default: the agent picks)")
        String uuid;

        @Option(names = "--stopped", description = "create it powered off (power_on: false)")
        boolean stopped;

        @Option(names = "--hostname", paramLabel = "NAME", description = "the guest's host name (default: from --name)")
        String hostname;

        @Option(names = "--meta", paramLabel = "KEY=VALUE", description = "server metadata for the guest; repeat for more")
        Map<String, String> meta = new LinkedHashMap<>();

        @Option(names = "--public-key", paramLabel = "NAME=FILE",
                description = "an OpenSSH public key file (e.g. ~/.ssh/id_ed25519.pub) under a key pair name; repeat for more")
        Map<String, Path> publicKeys = new LinkedHashMap<>();

        @Option(names = "--user-data", paramLabel = "FILE",
                description = "user data for cloud-init (e.g. a #cloud-config file), at most 65535 bytes")
        Path userData;

        @Option(names = "--config-drive", paramLabel = "true|false", arity = "1",
                description = "attach a config drive / metadata files (default: the driver's, on)")
        Boolean configDrive;

        /** --image as given (an id, or a name to resolve), or null. */
        public String image() {
            return image;
        }

        /** True when --image is a name, not an id. */
        public boolean imageIsName() {
            return image != null && !image.matches(UUID);
        }

        /**
         * The request body: --file's object with the options laid over it. A --image name goes through
         * {@code imageByName} (returning null leaves image_id as it is, for the caller to set).
         */
        public ObjectNode body(java.util.function.UnaryOperator<String> imageByName) {
            ObjectNode b;
            if (file != null) {
                try {
                    JsonNode n = ApiClient.JSON.readTree(Files.readString(file));
                    if (!(n instanceof ObjectNode o)) {
                        throw new IllegalArgumentException("--file: " + file + " must hold a JSON object");
                    }
                    b = o;
                } catch (IOException e) {
                    throw new IllegalArgumentException("--file: " + file + " cannot be read as JSON: " + e.getMessage());
                }
            } else {
                b = ApiClient.JSON.createObjectNode();
            }
            put(b, "driver", driver);
            put(b, "name", name);
            put(b, "uuid", uuid);
            String imageId = image == null ? null : imageIsName() ? imageByName.apply(image) : image;
            if (imageId != null) {
                b.put("image_id", imageId);
            }
            if (flavor != null || vcpus != null || memoryMb != null || rootGb != null || !b.has("flavor")) {
                ObjectNode f = b.path("flavor") instanceof ObjectNode o ? o : b.putObject("flavor");
                put(f, "name", flavor != null ? flavor : f.has("name") ? null : "custom");
                if (vcpus != null) {
                    f.put("vcpus", vcpus);
                }
                if (memoryMb != null) {
                    f.put("memory_mb", memoryMb);
                }
                if (rootGb != null) {
                    f.put("root_gb", rootGb);
                }
            }
            if (!nics.isEmpty()) {
                ArrayNode vifs = b.putArray("vifs");
                nics.forEach(n -> vifs.add(nic(n)));
            }
            if (!properties.isEmpty()) {
                ObjectNode p = b.path("properties") instanceof ObjectNode o ? o : b.putObject("properties");
                properties.forEach(p::put);
            }
            if (stopped) {
                b.put("power_on", false);
            }
            guest(b);
            return b;
        }

        /** --hostname, --meta, --public-key, --user-data, --config-drive: files are read here, checked by the agent. */
        private void guest(ObjectNode b) {
            put(b, "hostname", hostname);
            if (!meta.isEmpty()) {
                ObjectNode m = b.path("metadata") instanceof ObjectNode o ? o : b.putObject("metadata");
                meta.forEach(m::put);
            }
            if (!publicKeys.isEmpty()) {
                ObjectNode k = b.path("public_keys") instanceof ObjectNode o ? o : b.putObject("public_keys");
                publicKeys.forEach((name, file) -> k.put(name, read(file, "--public-key " + name, 16384).strip()));
            }
            if (userData != null) {
                byte[] data = read(userData, "--user-data", 65535).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
                b.put("user_data", java.util.Base64.getEncoder().encodeToString(data));
            }
            if (configDrive != null) {
                b.put("config_drive", configDrive);
            }
        }

        /** A small file's bytes as ISO-8859-1 text (byte for byte); refused when larger than {@code max}. */
        private static String read(Path file, String option, int max) {
            try {
                long size = Files.size(file);
                if (size > max) {
                    throw new IllegalArgumentException(option + ": " + file + " has " + size + " bytes, at most " + max);
                }
                return new String(Files.readAllBytes(file), java.nio.charset.StandardCharsets.ISO_8859_1);
            } catch (IOException e) {
                throw new IllegalArgumentException(option + ": cannot read " + file + ": " + e.getMessage());
            }
        }

        static ObjectNode nic(String spec) {
            ObjectNode v = ApiClient.JSON.createObjectNode();
            for (String part : spec.split(",")) {
                int eq = part.indexOf('=');
                if (eq < 1) {
                    throw new IllegalArgumentException("--nic: '" + part + "' must be key=value (keys: port_id, mac, ip, "
                            + "bridge, mtu, vlan, gateway)");
                }
                String k = part.substring(0, eq).strip();
                String val = part.substring(eq + 1).strip();
                switch (k) {
                    case "ip", "ips" -> (v.path("ips") instanceof ArrayNode a ? a : v.putArray("ips")).add(val);
                    case "mtu", "vlan" -> {
                        if (val.matches("-?\\d{1,9}")) {
                            v.put(k, Integer.parseInt(val));
                        } else {
                            v.put(k, val); // the agent names the field and the rule
                        }
                    }
                    case "port_id", "mac", "bridge", "gateway" -> v.put(k, val);
                    default -> throw new IllegalArgumentException("--nic: unknown key '" + k
                            + "' (keys: port_id, mac, ip, bridge, mtu, vlan, gateway)");
                }
            }
            return v;
        }

        private static void put(ObjectNode n, String key, String value) {
            if (value != null) {
                n.put(key, value);
            }
        }
    }

    /** The id of the one image of that name on the agent {@code client} talks to (--image NAME). */
    public static String imageByName(ApiClient client, String wanted) {
        java.util.List<String> ids = new ArrayList<>();
        client.get("/v1/images").path("images").forEach(i -> {
            if (i.path("name").asText().equals(wanted)) {
                ids.add(i.path("id").asText());
            }
        });
        if (ids.size() != 1) {
            throw new IllegalArgumentException("--image: " + (ids.isEmpty() ? "no image is named '" + wanted + "'"
                    : ids.size() + " images are named '" + wanted + "'; give an id: " + ids));
        }
        return ids.get(0);
    }
}
