package org.berth.driver.docker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;

/**
 * An instance's VIFs: plugging them into the container's network namespace through the {@link VifPlugger}, and
 * the VIF list after hot-plugs. Labels are immutable once a container exists, so the current list of a
 * hot-plugged instance lives in {@code <state_dir>/<uuid>.vifs.json} (deleted on destroy); without that file
 * the labels' list is the truth. Inside the container the i-th VIF is {@code eth<i>} after every (re)start.
 */
final class Vifs {
    private final Optional<VifPlugger> plugger;
    private final Path stateDir;

    Vifs(Optional<VifPlugger> plugger, Path stateDir) {
        this.plugger = plugger;
        this.stateDir = stateDir;
    }

    boolean canPlug() {
        return plugger.isPresent();
    }

    /**
     * Plugs every VIF into the namespace of {@code pid}, then waits until the switch attached them all (one wait
     * behind the switch's work for all of them); on failure unplugs the ones this call plugged.
     */
    void plugAll(UUID uuid, List<VifSpec> vifs, long pid) {
        if (plugger.isEmpty() || vifs.isEmpty()) {
            return;
        }
        List<VifSpec> done = new ArrayList<>();
        try {
            for (int i = 0; i < vifs.size(); i++) {
                plugger.get().plugNamespace(uuid, vifs.get(i), pid, "eth" + i);
                done.add(vifs.get(i));
            }
            done.forEach(vif -> plugger.get().awaitAttached(uuid, vif));
        } catch (RuntimeException e) {
            unplugAll(uuid, done, e);
            throw e;
        }
        if (Files.exists(file(uuid))) {
            store(uuid, vifs); // the names are eth0..n-1 again
        }
    }

    /**
     * Plugs again what was lost of the VIFs of the running container {@code pid} (plugNamespace keeps a VIF that is
     * in place); unlike {@link #plugAll} a failure rolls nothing back: the other VIFs work and stay.
     */
    void replug(UUID uuid, List<VifSpec> vifs, long pid) {
        if (plugger.isEmpty()) {
            return;
        }
        for (int i = 0; i < vifs.size(); i++) {
            plugger.get().plugNamespace(uuid, vifs.get(i), pid, "eth" + i);
        }
        vifs.forEach(vif -> plugger.get().awaitAttached(uuid, vif));
    }

    /** Unplugs every VIF, trying all of them; errors are attached to {@code failure} or thrown at the end. */
    void unplugAll(UUID uuid, List<VifSpec> vifs, RuntimeException failure) {
        if (plugger.isEmpty()) {
            return;
        }
        RuntimeException first = null;
        for (VifSpec vif : vifs) {
            try {
                plugger.get().unplug(uuid, vif);
            } catch (RuntimeException e) {
                if (failure != null) {
                    failure.addSuppressed(e);
                } else if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Hot-plugs one more VIF as the next free {@code eth<n>} and records it; returns the spec with it. */
    InstanceSpec attach(InstanceSpec current, VifSpec vif, long pid) {
        List<VifSpec> vifs = new ArrayList<>(current.vifs());
        vifs.add(vif);
        InstanceSpec next = current.withVifs(vifs); // validates: unique port ids and MACs, at most 16
        plugger.orElseThrow().plugNamespace(current.uuid(), vif, pid, "eth" + (current.vifs().size()));
        try {
            plugger.get().awaitAttached(current.uuid(), vif);
            store(current.uuid(), vifs);
        } catch (RuntimeException e) {
            unplugAll(current.uuid(), List.of(vif), e);
            throw e;
        }
        return next;
    }

    /** Unplugs one VIF and records the list without it; returns the spec without it. */
    InstanceSpec detach(InstanceSpec current, VifSpec vif) {
        plugger.orElseThrow().unplug(current.uuid(), vif);
        List<VifSpec> vifs = new ArrayList<>(current.vifs());
        vifs.remove(vif);
        store(current.uuid(), vifs);
        return current.withVifs(vifs);
    }

    /** The spec with the hot-plugged VIF list applied, if there is one. */
    InstanceSpec current(InstanceSpec fromLabels) {
        Path f = file(fromLabels.uuid());
        if (!Files.exists(f)) {
            return fromLabels;
        }
        try {
            return fromLabels.withVifs(SpecLabels.vifsFromJson(SpecLabels.json().readTree(f.toFile())));
        } catch (IOException e) {
            throw new DriverException.BackendFailure(Engine.BACKEND, "read " + f, e.getMessage(), e);
        }
    }

    void forget(UUID uuid) {
        try {
            Files.deleteIfExists(file(uuid));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void store(UUID uuid, List<VifSpec> vifs) {
        Path f = file(uuid);
        Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, SpecLabels.vifsToJson(vifs).toString());
            Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new DriverException.BackendFailure(Engine.BACKEND, "write " + f, e.getMessage(), e);
        }
    }

    private Path file(UUID uuid) {
        return stateDir.resolve(uuid + ".vifs.json");
    }
}
