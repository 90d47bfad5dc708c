package org.berth.agent.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Semaphore;
import org.berth.agent.config.AgentConfig;
import org.berth.agent.image.ImageImport;
import org.berth.agent.image.ImageMeta;
import org.berth.agent.image.ImageUpload;
import org.berth.agent.store.InstanceRecord;
import org.berth.agent.store.SpecJson;
import org.berth.agent.store.Store;
import org.berth.driver.api.Image;
import org.berth.image.ManifestImageStore;

/** /v1/images: list, show, import (checksum verified), delete (refused while in use). */
final class ImageRoutes {
    private final Store instances;
    private final ManifestImageStore store;
    private final ImageImport imports;
    private final long maxUploadBytes;
    private final int maxConcurrentUploads;
    private final Duration uploadIdleTimeout;
    private final Semaphore uploadSlots;

    ImageRoutes(AgentConfig config, Store instances, ManifestImageStore store) {
        this.instances = instances;
        this.store = store;
        this.maxUploadBytes = config.maxImageUploadBytes();
        this.maxConcurrentUploads = config.maxConcurrentImageUploads();
        this.uploadIdleTimeout = config.imageUploadIdleTimeout();
        this.uploadSlots = new Semaphore(maxConcurrentUploads);
        var roots = new ArrayList<>(config.imageDirs());
        roots.add(config.stateDir().resolve("import"));
        this.imports = new ImageImport(store, roots);
    }

    Response handle(Request r, String[] p) {
        if (p.length == 3 && r.method().equals("POST")) {
            return importImage(r);
        }
        if (p.length == 3) {
            return Routes.only(r, "GET", () -> {
                store.refresh();
                ArrayNode list = Views.MAPPER.createArrayNode();
                store.list().stream().sorted(java.util.Comparator.comparing(Image::name))
                        .forEach(i -> list.add(Views.image(i, store.writable(i.id()))));
                ObjectNode n = Views.MAPPER.createObjectNode();
                n.set("images", list);
                return Response.json(200, n);
            });
        }
        String id = Routes.uuidSegment(p[3]).toString();
        if (p.length == 5 && p[4].equals("file")) {
            throw Routes.notAllowed(r, "GET"); // GET is streamed by ApiHandler (see file())
        }
        if (p.length != 4) {
            throw Routes.notFound(r.path());
        }
        return switch (r.method()) {
            case "GET" -> Response.json(200, Map.of("image", Views.image(store.get(id), store.writable(id))));
            case "DELETE" -> deleteImage(id);
            default -> throw Routes.notAllowed(r, "GET, DELETE");
        };
    }

    private static final Set<String> IMPORT_FIELDS = Set.of("name", "disk_format", "container_format", "file",
            "sha256", "properties");

    private Response importImage(Request r) {
        Routes.requireJson(r);
        JsonNode b = Views.parse(r.body());
        if (!b.isObject()) {
            throw new ApiError(400, "body", "type", "body: must be a JSON object");
        }
        b.fieldNames().forEachRemaining(k -> {
            if (!IMPORT_FIELDS.contains(k)) {
                throw new ApiError(400, k, "unknown_field", k + ": is not a field of an image import; fields: "
                        + String.join(", ", IMPORT_FIELDS.stream().sorted().toList()));
            }
        });
        java.util.Map<String, String> props = new java.util.LinkedHashMap<>();
        JsonNode pn = b.get("properties");
        if (pn != null && !pn.isNull()) {
            if (!pn.isObject()) {
                throw new ApiError(400, "properties", "type", "properties: must be an object of strings");
            }
            pn.properties().forEach(f -> props.put(f.getKey(), f.getValue().asText()));
        }
        ImageMeta meta = ImageMeta.of(importText(b, "name"), importText(b, "disk_format"),
                importText(b, "container_format"), importText(b, "sha256"), props);
        return created(imports.importFile(meta, importText(b, "file")));
    }

    /** The upload form of POST /v1/images: what the query says, validated before any byte of the body is read. */
    ImageUpload beginUpload(Request r) throws java.io.IOException {
        r.query().keySet().forEach(k -> {
            if (!UPLOAD_PARAMS.contains(k)) {
                throw new ApiError(400, k, "unknown_field", Routes.cut(k) + ": is not a parameter of an image upload; "
                        + "parameters: " + String.join(", ", UPLOAD_PARAMS.stream().sorted().toList()));
            }
            if (r.query().get(k).size() != 1) {
                throw new ApiError(400, k, "single", k + ": must be given once");
            }
        });
        ImageMeta meta = ImageMeta.of(r.param("name"), r.param("disk_format"), r.param("container_format"),
                r.param("sha256"), uploadProperties(r.param("properties")));
        return ImageUpload.begin(store, meta);
    }

    long maxUploadBytes() {
        return maxUploadBytes;
    }

    Duration uploadIdleTimeout() {
        return uploadIdleTimeout;
    }

    /**
     * Claims one of the {@code max_concurrent_image_uploads} slots (each upload holds a writer thread, a temp file
     * and up to 4 MiB of buffers); {@link #releaseUploadSlot()} exactly once after a successful claim.
     *
     * @throws ApiError 503 naming {@code uploads} when every slot is taken
     */
    void claimUploadSlot() {
        if (!uploadSlots.tryAcquire()) {
            throw new ApiError(503, "uploads", "max_concurrent",
                    "uploads: max_concurrent_image_uploads (" + maxConcurrentUploads + ") uploads are running; retry later");
        }
    }

    void releaseUploadSlot() {
        uploadSlots.release();
    }

    static Response created(Image image) {
        return Response.json(201, Map.of("image", Views.image(image, true)))
                .withHeader("Location", "/v1/images/" + image.id());
    }

    private static final Set<String> UPLOAD_PARAMS = Set.of("name", "disk_format", "container_format", "sha256",
            "properties");

    /** The upload's {@code properties} parameter: a JSON object of strings (a migration carries kernel_id etc.). */
    private static Map<String, String> uploadProperties(String raw) {
        if (raw == null) {
            return Map.of();
        }
        JsonNode n;
        try {
            n = Views.MAPPER.readTree(raw);
        } catch (java.io.IOException e) {
            n = null;
        }
        if (n == null || !n.isObject()) {
            throw new ApiError(400, "properties", "json_object", "properties: must be a JSON object of strings, "
                    + "e.g. properties={\"kernel_id\":\"…\"} (URL-encoded)");
        }
        Map<String, String> out = new java.util.LinkedHashMap<>();
        for (var f : n.properties()) {
            if (!f.getValue().isTextual()) {
                throw new ApiError(400, "properties." + Routes.cut(f.getKey()), "type", "properties."
                        + Routes.cut(f.getKey()) + ": must be a string");
            }
            out.put(f.getKey(), f.getValue().asText());
        }
        return out;
    }

    /** The image behind GET /v1/images/{id}/file: its metadata and its file (404 if either is gone). */
    record ImageFile(Image image, java.nio.file.Path file, long size) {
    }

    ImageFile file(String id) {
        Image image = store.get(id);
        java.nio.file.Path f = store.file(id);
        try {
            return new ImageFile(image, f, java.nio.file.Files.size(f));
        } catch (java.io.IOException e) {
            throw new ApiError(404, "id", "not_found", "image " + id + ": its file is gone");
        }
    }

    private static String importText(JsonNode b, String field) {
        JsonNode v = b.get(field);
        if (v == null || v.isNull()) {
            throw new ApiError(400, field, "required", field + ": must be given");
        }
        if (!v.isTextual()) {
            throw new ApiError(400, field, "type", field + ": must be a string");
        }
        return v.asText();
    }

    private Response deleteImage(String id) {
        store.get(id);
        if (!store.writable(id)) {
            throw new ApiError(409, "id", "read_only", "image " + id + " is in a read-only image directory");
        }
        for (InstanceRecord x : instances.list(Optional.empty())) {
            if (SpecJson.readString(x.specJson()).imageId().equals(id)) {
                throw new ApiError(409, "id", "in_use", "image " + id + " is in use by instance " + x.uuid());
            }
        }
        store.delete(id);
        return Response.noContent();
    }
}
