package org.berth.driver.docker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.VifSpec;

/** The counters of the VIFs' host-side veths, from sysfs ({@code class/net/<dev>/statistics}). */
final class VethCounters {
    private static final Logger LOG = Logger.getLogger(VethCounters.class.getName());

    private final Path sys;
    /** Devices whose counters were unreadable, logged once: while it lasts, not again. */
    private final Set<String> unreadable = ConcurrentHashMap.newKeySet();

    VethCounters(Path sys) {
        this.sys = sys;
    }

    /**
     * The host end of each VIF's veth: what it transmitted the instance received, so rx and tx swap. A VIF whose
     * device is not there (no plugger, or unplugged meanwhile) is left out; so is one whose counters cannot be read
     * (a veth being deleted answers EINVAL while its directory is still there: the kernel's netstat_show checks
     * dev_isalive), logged once per device if the device is still there afterwards.
     */
    List<InstanceStats.VifStats> of(List<VifSpec> vifs) {
        List<InstanceStats.VifStats> out = new ArrayList<>(vifs.size());
        for (VifSpec v : vifs) {
            Path dev = sys.resolve("class/net").resolve(v.devName());
            Path st = dev.resolve("statistics");
            try {
                out.add(new InstanceStats.VifStats(v.portId(), v.devName(),
                        counter(st, "tx_bytes"), counter(st, "tx_packets"), counter(st, "tx_dropped"),
                        counter(st, "tx_errors"),
                        counter(st, "rx_bytes"), counter(st, "rx_packets"), counter(st, "rx_dropped"),
                        counter(st, "rx_errors")));
                unreadable.remove(v.devName());
            } catch (NoSuchFileException e) {
                // not plugged now
            } catch (IOException e) {
                if (Files.isDirectory(dev) && unreadable.add(v.devName())) {
                    LOG.log(Level.WARNING, "VIF " + v.devName() + " (port " + v.portId() + ") left out of the stats: "
                            + "its counters cannot be read (logged once while it lasts): " + e);
                }
            }
        }
        return out;
    }

    /** Forgets the devices of instances no longer listed. */
    void retain(List<InstanceInfo> listed) {
        Set<String> live = new HashSet<>();
        listed.forEach(i -> i.spec().vifs().forEach(v -> live.add(v.devName())));
        unreadable.retainAll(live);
    }

    private static long counter(Path statistics, String name) throws IOException {
        return Math.max(0, CgroupFiles.number(statistics.resolve(name)));
    }
}
