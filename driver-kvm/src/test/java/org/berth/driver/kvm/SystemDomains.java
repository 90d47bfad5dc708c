package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;

/** Test check: the system libvirtd's domains, running or defined, asked directly (not through the driver). */
final class SystemDomains {
    private SystemDomains() {
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
