package org.berth.driver.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.VifSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The veth counters on a sysfs-like tree: rx and tx swap to the instance's side; a device gone, or one whose
 * counter read fails with an error other than ENOENT (a veth being deleted answers EINVAL), leaves that VIF out
 * instead of failing the sample.
 */
class VethCountersTest {
    @TempDir
    Path sys;

    private void device(String dev, boolean readable) throws IOException {
        Path st = Files.createDirectories(sys.resolve("class/net").resolve(dev).resolve("statistics"));
        long n = 1;
        for (String c : List.of("tx_bytes", "tx_packets", "tx_dropped", "tx_errors", "rx_bytes", "rx_packets",
                "rx_dropped", "rx_errors")) {
            if (!readable && c.equals("rx_bytes")) {
                Files.createDirectory(st.resolve(c)); // a read of it fails with a plain IOException (EISDIR)
            } else {
                Files.writeString(st.resolve(c), (n++) + "\n");
            }
        }
    }

    @Test
    void aVifThatCannotBeReadIsLeftOutAndTheOthersStand() throws IOException {
        VifSpec ok = VifSpec.of("11111111-1111-1111-1111-111111111111", "fa:16:3e:00:00:01");
        VifSpec dying = VifSpec.of("22222222-2222-2222-2222-222222222222", "fa:16:3e:00:00:02");
        VifSpec gone = VifSpec.of("33333333-3333-3333-3333-333333333333", "fa:16:3e:00:00:03");
        device(ok.devName(), true);
        device(dying.devName(), false);
        VethCounters veths = new VethCounters(sys);
        List<InstanceStats.VifStats> out = veths.of(List.of(ok, dying, gone));
        // the host end's tx (1, 2, 3, 4) is what the instance received
        assertEquals(List.of(new InstanceStats.VifStats(ok.portId(), ok.devName(), 1, 2, 3, 4, 5, 6, 7, 8)), out);
        assertEquals(out, veths.of(List.of(ok, dying, gone)), "again: the same, logged once only");
        assertTrue(veths.of(List.of(dying)).isEmpty());
    }
}
