package org.berth.driver.kvm;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.berth.driver.api.DriverException;

/** Reads the last bytes of a console log file without ever reading more than asked. */
final class ConsoleTail {
    static final int MAX_BYTES = 1024 * 1024;

    private ConsoleTail() {
    }

    static byte[] read(Path file, int maxBytes) {
        if (maxBytes < 1 || maxBytes > MAX_BYTES) {
            throw new IllegalArgumentException("max_bytes: " + maxBytes + " must be between 1 and " + MAX_BYTES);
        }
        if (!Files.exists(file)) {
            return new byte[0];
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            long length = raf.length();
            int n = (int) Math.min(length, maxBytes);
            byte[] buf = new byte[n];
            raf.seek(length - n);
            raf.readFully(buf);
            return buf;
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            return new byte[0];
        } catch (IOException e) {
            throw new DriverException.BackendFailure("berth", "read console log", e.getMessage(), e);
        }
    }
}
