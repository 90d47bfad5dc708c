package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.DriverException;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;

/** Test check: the system libvirtd's domains, running or defined, asked directly (not through the driver). */
final class SystemDomains {
    private SystemDomains() {
    }

    /**
     * A test's cleanup: destroys every instance of {@code uuids} through {@code driver} and checks that it is gone
     * from the driver, from {@code stateDir} and from libvirtd.
     */
    static void destroyAndAssertGone(ComputeDriver driver, Path stateDir, Collection<UUID> uuids)
            throws LibvirtException {
        for (UUID uuid : uuids) {
            driver.destroy(uuid);
            assertThrows(DriverException.InstanceNotFound.class, () -> driver.info(uuid));
            assertFalse(Files.exists(stateDir.resolve(uuid.toString())), "instance dir of " + uuid);
        }
        assertGone(uuids);
    }

    /** Fails when any {@code berth-<uuid>} of {@code uuids} is still a domain on {@code qemu:///system}. */
    static void assertGone(Collection<UUID> uuids) throws LibvirtException {
        Connect c = new Connect("qemu:///system");
        try {
            Set<String> names = new HashSet<>(List.of(c.listDefinedDomains()));
            for (int id : c.listDomains()) {
                names.add(c.domainLookupByID(id).getName());
            }
            for (UUID uuid : uuids) {
                assertFalse(names.contains("berth-" + uuid), "domain left: " + uuid);
            }
        } finally {
            c.close();
        }
    }
}
