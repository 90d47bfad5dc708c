package org.berth.driver.docker;

import com.github.dockerjava.api.command.InspectContainerResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.ExecSpec;
import org.berth.driver.api.InstanceStream;
import org.berth.driver.api.PowerState;

/**
 * {@code docker exec}: create the exec (docker-java, as every other engine call), start it on a hijacked
 * connection of our own ({@link ExecStart}), size its terminal. A program that does not exist, or a working
 * directory that does not, is not an error here: the engine starts the stream, writes runc's message into it
 * ({@code OCI runtime exec failed: ... executable file not found in $PATH}) and records exit code 126, as
 * {@code docker exec} reports it; the caller reads both.
 */
final class Execs implements AutoCloseable {
    private final Engine engine;
    /** Streams not closed yet: the driver's close ends them (and kills their commands) while the engine is open. */
    private final Set<ExecStream> open = ConcurrentHashMap.newKeySet();

    Execs(Engine engine) {
        this.engine = engine;
    }

    InstanceStream exec(UUID uuid, ExecSpec spec) {
        InspectContainerResponse c = engine.require(uuid);
        PowerState state = PowerStates.of(c);
        Long init = c.getState() == null ? null : c.getState().getPidLong();
        if (state != PowerState.RUNNING || init == null || init <= 0) {
            throw new DriverException.InvalidInstanceState(uuid, "exec", state); // a paused one cannot run anything
        }
        String execId = engine.call("exec", uuid, () -> engine.client().execCreateCmd(c.getId())
                .withCmd(spec.argv().toArray(String[]::new))
                .withEnv(spec.env().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).sorted().toList())
                .withWorkingDir(spec.workingDir().orElse(null))
                .withTty(spec.tty())
                .withAttachStdin(true)
                .withAttachStdout(true)
                .withAttachStderr(true)
                .exec().getId());
        var hijacked = ExecStart.start(engine, uuid, execId, spec.tty(), ByteBuffer.allocate(ExecStream.BUFFER));
        var stream = new ExecStream(engine, uuid, execId, init, spec.tty(), hijacked, open::remove);
        open.add(stream);
        if (spec.tty()) {
            try {
                // Sized as soon as it runs: exec create has no size in API 1.41 (ConsoleSize came with 1.42).
                stream.resize(spec.columns(), spec.rows());
            } catch (RuntimeException e) {
                stream.close();
                throw e;
            }
        }
        return stream;
    }

    /** Closes every stream still open: their commands are killed and their connections dropped. */
    @Override
    public void close() {
        for (ExecStream s : List.copyOf(open)) {
            s.close();
        }
    }
}
