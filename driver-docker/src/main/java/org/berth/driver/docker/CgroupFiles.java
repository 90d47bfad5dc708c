package org.berth.driver.docker;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reading the kernel's small text files (cgroup, sysfs, procfs): each read is bounded, and a file that is gone
 * (the container ended between the list and the read) surfaces as {@link java.nio.file.NoSuchFileException}.
 */
final class CgroupFiles {
    /** Far above any cgroup or sysfs file we read (memory.stat is about 1.5 KiB): a bound, not a size guess. */
    private static final int MAX_BYTES = 64 * 1024;

    private CgroupFiles() {
    }

    static String read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return new String(in.readNBytes(MAX_BYTES), StandardCharsets.US_ASCII);
        }
    }

    /** A file holding one number ({@code cpuacct.usage}, {@code memory.current}); {@code max} is {@link Long#MAX_VALUE}. */
    static long number(Path file) throws IOException {
        String s = read(file).trim();
        return s.equals("max") ? Long.MAX_VALUE : parse(s, file);
    }

    /** {@code key value} lines ({@code memory.stat}, {@code cpu.stat}, {@code uevent} with '='). */
    static Map<String, Long> keyed(Path file) throws IOException {
        Map<String, Long> out = new HashMap<>();
        for (String line : read(file).split("\n")) {
            int sp = line.indexOf(' ');
            if (sp > 0) {
                try {
                    out.put(line.substring(0, sp), Long.parseLong(line.substring(sp + 1).trim()));
                } catch (NumberFormatException e) {
                    // a key with a non-numeric value is not one we read
                }
            }
        }
        return out;
    }

    /** Block I/O of one device: bytes and requests read and written. */
    record Io(String majMin, long readBytes, long readRequests, long writeBytes, long writeRequests) {
    }

    /** cgroup v2 {@code io.stat}: {@code MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..} per line. */
    static List<Io> ioStat(Path file) throws IOException {
        Map<String, Io> out = new LinkedHashMap<>();
        for (String line : read(file).split("\n")) {
            String[] f = line.trim().split(" ");
            if (f.length < 2 || f[0].indexOf(':') < 0) {
                continue;
            }
            Map<String, Long> kv = new HashMap<>();
            for (int i = 1; i < f.length; i++) {
                int eq = f[i].indexOf('=');
                if (eq > 0) {
                    kv.put(f[i].substring(0, eq), parseOr0(f[i].substring(eq + 1)));
                }
            }
            out.put(f[0], new Io(f[0], kv.getOrDefault("rbytes", 0L), kv.getOrDefault("rios", 0L),
                    kv.getOrDefault("wbytes", 0L), kv.getOrDefault("wios", 0L)));
        }
        return List.copyOf(out.values());
    }

    /**
     * cgroup v1 {@code blkio.throttle.io_service_bytes_recursive} and {@code ..io_serviced_recursive}: lines
     * {@code MAJ:MIN Read|Write|Sync|Async|Discard|Total N}, plus a last {@code Total N}.
     */
    static List<Io> blkio(Path bytesFile, Path requestsFile) throws IOException {
        Map<String, long[]> bytes = blkioOps(bytesFile);
        Map<String, long[]> requests = blkioOps(requestsFile);
        return bytes.entrySet().stream().map(e -> {
            long[] r = requests.getOrDefault(e.getKey(), new long[2]);
            return new Io(e.getKey(), e.getValue()[0], r[0], e.getValue()[1], r[1]);
        }).toList();
    }

    private static Map<String, long[]> blkioOps(Path file) throws IOException {
        Map<String, long[]> out = new LinkedHashMap<>();
        for (String line : read(file).split("\n")) {
            String[] f = line.trim().split(" ");
            if (f.length != 3 || f[0].indexOf(':') < 0) {
                continue;
            }
            long[] rw = out.computeIfAbsent(f[0], k -> new long[2]);
            switch (f[1]) {
                case "Read" -> rw[0] = parseOr0(f[2]);
                case "Write" -> rw[1] = parseOr0(f[2]);
                default -> { }
            }
        }
        return out;
    }

    private static long parse(String s, Path file) throws IOException {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IOException(file + ": not a number: '" + s.replaceAll("\\p{Cntrl}", "?") + "'", e);
        }
    }

    private static long parseOr0(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
