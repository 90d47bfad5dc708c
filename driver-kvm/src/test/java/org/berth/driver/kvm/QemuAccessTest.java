package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.berth.driver.api.DriverException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whether QEMU's user can reach the state directory, judged by mode bits along the path. */
class QemuAccessTest {
    private static final String CAPS = """
            <capabilities><host>
              <secmodel><model>none</model><doi>0</doi></secmodel>
              <secmodel><model>dac</model><doi>0</doi>
                <baselabel type='kvm'>+64055:+64056</baselabel>
                <baselabel type='qemu'>+64057:+64058</baselabel>
              </secmodel>
            </host></capabilities>""";
    /** Not the owner of anything the test makes (the tests run as root). */
    private static final QemuAccess.Identity QEMU = new QemuAccess.Identity(64055, 64055, Set.of(64055), "libvirt-qemu");

    @Test
    void readsTheDacLabelOfTheDomainType() {
        assertArrayEquals(new int[] {64057, 64058}, QemuAccess.dacLabel(CAPS, "qemu").orElseThrow());
        assertArrayEquals(new int[] {64055, 64056}, QemuAccess.dacLabel(CAPS, "kvm").orElseThrow());
        assertTrue(QemuAccess.dacLabel("<capabilities><host><secmodel><model>none</model></secmodel></host>"
                + "</capabilities>", "qemu").isEmpty());
    }

    @Test
    void namesTheUserAndItsGroups(@TempDir Path dir) throws IOException {
        Path passwd = Files.writeString(dir.resolve("passwd"), "root:x:0:0::/root:/bin/sh\n"
                + "libvirt-qemu:x:64055:108:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin\n");
        Path group = Files.writeString(dir.resolve("group"), "kvm:x:104:libvirt-qemu\nlibvirt:x:105:root\n"
                + "disk:x:6:other,libvirt-qemu\nbroken:x:zz:libvirt-qemu\n");
        QemuAccess.Identity who = QemuAccess.identity(64055, 108, passwd, group);
        assertEquals(Set.of(108, 104, 6), who.groups());
        assertEquals("libvirt-qemu (uid 64055, gid 108)", who.describe());
        assertEquals("uid 7", QemuAccess.identity(7, 7, passwd, group).describe());
    }

    @Test
    void aDirectoryWithoutSearchPermissionBlocksAndIsNamed(@TempDir Path tmp) throws IOException {
        Path home = mode(Files.createDirectory(tmp.resolve("home")), "rwx------");
        Path state = mode(Files.createDirectories(home.resolve("clone/state/kvm")), "rwxr-xr-x");
        mode(tmp, "rwxr-xr-x");
        var e = assertThrows(DriverException.StateDirUnreachable.class, () -> QemuAccess.check(state, QEMU));
        assertEquals(home, e.blocked());
        assertEquals(state, e.stateDir());
        assertEquals("libvirt-qemu (uid 64055, gid 64055)", e.user());
        assertTrue(e.rule().startsWith("is drwx------ uid 0 gid 0: others' bits"), e.rule());
        assertTrue(e.getMessage().contains(home.toString()) && e.getMessage().contains("libvirt-qemu"), e.getMessage());

        mode(home, "rwx--x--x"); // search without listing is enough
        QemuAccess.check(state, QEMU);
        mode(state, "rwx------");
        assertEquals(state, assertThrows(DriverException.StateDirUnreachable.class,
                () -> QemuAccess.check(state, QEMU)).blocked());
    }

    @Test
    void groupAndOwnerBitsCountForTheirUser(@TempDir Path tmp) throws IOException {
        mode(tmp, "rwxr-xr-x");
        Path dir = mode(Files.createDirectory(tmp.resolve("g")), "rwx--x---");
        Files.setAttribute(dir, "unix:gid", 64055);
        QemuAccess.check(dir, QEMU);
        QemuAccess.Identity stranger = new QemuAccess.Identity(64099, 64099, Set.of(64099), null);
        var e = assertThrows(DriverException.StateDirUnreachable.class, () -> QemuAccess.check(dir, stranger));
        assertEquals("uid 64099", e.user());
        Files.setAttribute(dir, "unix:uid", 64099);
        mode(dir, "r-x------");
        QemuAccess.check(dir, stranger);
        QemuAccess.check(dir, new QemuAccess.Identity(0, 0, Set.of(0), "root"));
    }

    @Test
    void followsSymbolicLinks(@TempDir Path tmp) throws IOException {
        mode(tmp, "rwxr-xr-x");
        Path closed = mode(Files.createDirectory(tmp.resolve("closed")), "rwx------");
        Path target = Files.createDirectory(closed.resolve("state"));
        Path link = Files.createSymbolicLink(tmp.resolve("link"), target);
        assertEquals(closed, assertThrows(DriverException.StateDirUnreachable.class,
                () -> QemuAccess.check(link, QEMU)).blocked());
    }

    private static Path mode(Path p, String perms) throws IOException {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
        return p;
    }
}
