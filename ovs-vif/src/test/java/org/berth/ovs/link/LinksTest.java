package org.berth.ovs.link;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/** Host links on the real kernel (root): a tap of this test only, removed at the end. */
class LinksTest {
    private final Commands sh = new Commands(Duration.ofSeconds(30));
    private final Links links = new Links(sh);

    @Test
    void setUpReadsSysfsAndChangesOnlyWhatDiffers() {
        String dev = "tapbbl" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 24));
        sh.run(List.of("ip", "tuntap", "add", "dev", dev, "mode", "tap"));
        try {
            sh.run(List.of("ip", "link", "set", "dev", dev, "mtu", "1400"));
            assertFalse(links.isUpWithMtu(dev, 1400), "down");
            assertFalse(links.isUpWithMtu(dev, 1500), "down, other MTU");
            links.setUp(dev, 1500);
            assertTrue(links.isUpWithMtu(dev, 1500), "up with the MTU asked for");
            assertFalse(links.isUpWithMtu(dev, 1400), "the MTU is compared");
            links.setUp(dev, 1500);
            assertTrue(links.isUpWithMtu(dev, 1500), "a second setUp keeps it");
        } finally {
            links.delete(dev);
        }
        assertFalse(links.exists(dev), "removed");
        assertFalse(links.isUpWithMtu(dev, 1500), "a missing link is not up");
    }
}
