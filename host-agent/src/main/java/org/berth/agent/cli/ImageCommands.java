package org.berth.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.berth.image.ManifestImageStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** berth images list | import | upload | delete. */
@Command(name = "images", description = "Images: list, import a file under an image directory, upload, delete.",
        subcommands = {ImageCommands.List.class, ImageCommands.Import.class, ImageCommands.Upload.class,
                ImageCommands.Delete.class})
final class ImageCommands implements Runnable {
    @ParentCommand
    BerthCli root;

    /** {@code berth images} alone lists them. */
    @Override
    public void run() {
        list(root);
    }

    /** The fields a table of images shows. */
    private static final java.util.List<String> COLUMNS =
            java.util.List.of("id", "name", "disk_format", "container_format", "size", "agent_owned");

    static void list(BerthCli root) {
        root.show("/v1/images", answer -> Table.of(answer.path("images"), COLUMNS).print(root.out()));
    }

    static void printImage(BerthCli root, JsonNode answer) {
        root.print(answer, () -> Table.of(java.util.List.of(answer.path("image")), COLUMNS).print(root.out()));
    }

    /** Name and formats, shared by import and upload. */
    static final class Meta {
        @Option(names = "--name", paramLabel = "NAME", description = "image name (default: the file name)")
        String name;

        @Option(names = "--disk-format", paramLabel = "FORMAT", description = "qcow2, raw, aki, ari "
                + "(default: qcow2 for *.qcow2, else raw)")
        String diskFormat;

        @Option(names = "--container-format", paramLabel = "FORMAT", defaultValue = "bare",
                description = "bare or docker (default: bare)")
        String containerFormat;

        Map<String, String> fields(Path file) {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("name", name != null ? name : file.getFileName().toString());
            m.put("disk_format", diskFormat != null ? diskFormat
                    : file.getFileName().toString().endsWith(".qcow2") ? "qcow2" : "raw");
            m.put("container_format", containerFormat);
            return m;
        }
    }

    @Command(name = "list", description = "Images (GET /v1/images).")
    static final class List implements Runnable {
        @ParentCommand
        ImageCommands parent;

        @Override
        public void run() {
            list(parent.root);
        }
    }

    @Command(name = "import", description = "Import a file already on the agent's host, under an image directory or "
            + "<state_dir>/import (POST /v1/images, JSON form; the file is copied).")
    static final class Import implements Runnable {
        @ParentCommand
        ImageCommands parent;

        @Parameters(paramLabel = "FILE", description = "path relative to an image directory")
        String file;

        @Option(names = "--sha256", required = true, paramLabel = "HEX", description = "the file's SHA-256")
        String sha256;

        @Option(names = "--property", paramLabel = "KEY=VALUE", description = "image property, e.g. ramdisk_id=ID "
                + "or os_command_line=... on a kernel (aki); repeat for more")
        Map<String, String> properties = new LinkedHashMap<>();

        @picocli.CommandLine.Mixin
        Meta meta;

        @Override
        public void run() {
            ObjectNode body = ApiClient.JSON.createObjectNode();
            meta.fields(Path.of(file)).forEach(body::put);
            body.put("file", file).put("sha256", sha256);
            if (!properties.isEmpty()) {
                ObjectNode p = body.putObject("properties");
                properties.forEach(p::put);
            }
            printImage(parent.root, parent.root.client().post("/v1/images", body));
        }
    }

    @Command(name = "upload", description = "Upload a local file (POST /v1/images, streamed body): the agent writes "
            + "it to disk as it arrives and registers it only if its SHA-256 matches.")
    static final class Upload implements Runnable {
        @ParentCommand
        ImageCommands parent;

        @Parameters(paramLabel = "FILE", description = "a local file")
        Path file;

        @Option(names = "--sha256", paramLabel = "HEX", description = "the expected SHA-256 (default: computed "
                + "from the file before sending)")
        String sha256;

        @picocli.CommandLine.Mixin
        Meta meta;

        @Override
        public void run() {
            if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
                throw new IllegalArgumentException("FILE: '" + file + "' is not a readable file");
            }
            Map<String, String> query = meta.fields(file);
            long size;
            try {
                size = Files.size(file);
                query.put("sha256", sha256 != null ? sha256 : ManifestImageStore.sha256(file));
            } catch (IOException e) {
                throw new IllegalArgumentException("FILE: '" + file + "' cannot be read: " + e.getMessage());
            }
            printImage(parent.root, parent.root.client().upload(file, size, query));
        }
    }

    @Command(name = "delete", description = "Delete an agent-owned image (refused while an instance uses it).")
    static final class Delete implements Runnable {
        @ParentCommand
        ImageCommands parent;

        @Parameters(paramLabel = "ID")
        String id;

        @Override
        public void run() {
            parent.root.client().delete("/v1/images/" + ApiClient.segment(id));
            parent.root.printDeleted(id, "deleted image " + id);
        }
    }
}
