package org.berth.metadata;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One file of an instance's metadata tree, e.g. {@code openstack/latest/meta_data.json}.
 *
 * @param path    relative, '/'-separated, no '..' or empty segments
 * @param content the bytes; never shared with the caller
 */
public record MetadataFile(String path, byte[] content) {
    private static final Pattern PATH = Pattern.compile("[a-z0-9_.-]+(/[a-z0-9_.-]+)*");

    public MetadataFile {
        Objects.requireNonNull(path, "path");
        if (!PATH.matcher(path).matches() || path.contains("..")) {
            throw new IllegalArgumentException("path: '" + path + "' must be a relative path of [a-z0-9_.-] segments");
        }
        content = Objects.requireNonNull(content, "content").clone();
    }

    @Override
    public byte[] content() {
        return content.clone();
    }
}
