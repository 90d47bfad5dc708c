package org.berth.driver.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.driver.api.DriverException;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Whether QEMU, which libvirt runs under its DAC label (Debian: libvirt-qemu, uid 64055), can reach the driver's
 * state directory. Without this check a state directory under a 0700 directory (root's home, a mktemp directory)
 * makes every spawn fail with "Cannot access storage file ... Permission denied"; with it the driver refuses to
 * start and says which directory blocks which user.
 */
final class QemuAccess {
    private static final Pattern LABEL = Pattern.compile("\\+?(\\d+):\\+?(\\d+)");

    /** The user QEMU runs as: its uid, primary gid, supplementary groups and (when known) name. */
    record Identity(int uid, int gid, Set<Integer> groups, String name) {
        Identity {
            groups = Set.copyOf(groups);
        }

        String describe() {
            return (name == null ? "uid " + uid : name + " (uid " + uid + ", gid " + gid + ")");
        }
    }

    private QemuAccess() {
    }

    /**
     * QEMU's uid:gid from the host capabilities' DAC security model ({@code <baselabel type='kvm'>+64055:+64055}),
     * for the domain type in use; empty when libvirt runs QEMU without DAC relabelling (no such model).
     */
    static Optional<int[]> dacLabel(String capabilitiesXml, String domainType) {
        Element caps = Xml.parse(capabilitiesXml).getDocumentElement();
        NodeList models = caps.getElementsByTagName("secmodel");
        for (int i = 0; i < models.getLength(); i++) {
            Element m = (Element) models.item(i);
            NodeList name = m.getElementsByTagName("model");
            if (name.getLength() == 0 || !"dac".equals(name.item(0).getTextContent().trim())) {
                continue;
            }
            NodeList labels = m.getElementsByTagName("baselabel");
            String fallback = null;
            for (int j = 0; j < labels.getLength(); j++) {
                Element l = (Element) labels.item(j);
                if (domainType.equals(l.getAttribute("type"))) {
                    return parse(l.getTextContent());
                }
                fallback = fallback == null ? l.getTextContent() : fallback;
            }
            return fallback == null ? Optional.empty() : parse(fallback);
        }
        return Optional.empty();
    }

    private static Optional<int[]> parse(String label) {
        Matcher m = LABEL.matcher(label.trim());
        return m.matches() ? Optional.of(new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))})
                : Optional.empty();
    }

    /** The identity of uid:gid with its name and supplementary groups from {@code passwd} and {@code group}. */
    static Identity identity(int uid, int gid, Path passwd, Path group) {
        String name = null;
        for (String line : lines(passwd)) {
            String[] f = line.split(":", -1);
            if (f.length >= 3 && f[2].equals(Integer.toString(uid))) {
                name = f[0];
                break;
            }
        }
        Set<Integer> groups = new TreeSet<>();
        groups.add(gid);
        if (name != null) {
            for (String line : lines(group)) {
                String[] f = line.split(":", -1);
                if (f.length >= 4 && List.of(f[3].split(",")).contains(name)) {
                    try {
                        groups.add(Integer.parseInt(f[2]));
                    } catch (NumberFormatException ignored) {
                        // a broken line names no group
                    }
                }
            }
        }
        return new Identity(uid, gid, groups, name);
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            return List.of();
        }
    }

    /**
     * Checks that {@code who} may search every directory from {@code /} down to {@code dir} (symbolic links
     * resolved), as the kernel would by mode bits.
     *
     * @throws DriverException.StateDirUnreachable naming the first directory that stops it
     */
    static void check(Path dir, Identity who) {
        if (who.uid() == 0) {
            return;
        }
        Path real;
        try {
            real = dir.toRealPath();
        } catch (IOException e) {
            throw new DriverException.StateDirUnreachable(dir, who.describe(), dir, "cannot be resolved: " + e);
        }
        List<Path> chain = new ArrayList<>();
        for (Path p = real; p != null; p = p.getParent()) {
            chain.addFirst(p);
        }
        for (Path p : chain) {
            int mode;
            int uid;
            int gid;
            try {
                mode = (Integer) Files.getAttribute(p, "unix:mode");
                uid = (Integer) Files.getAttribute(p, "unix:uid");
                gid = (Integer) Files.getAttribute(p, "unix:gid");
            } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
                return; // no POSIX view here: nothing to judge by
            }
            int bits = uid == who.uid() ? (mode >> 6) & 7 : who.groups().contains(gid) ? (mode >> 3) & 7 : mode & 7;
            if ((bits & 1) == 0) {
                String whose = uid == who.uid() ? "the owner's" : who.groups().contains(gid) ? "its group's" : "others'";
                throw new DriverException.StateDirUnreachable(dir, who.describe(), p, "is " + modeString(mode)
                        + " uid " + uid + " gid " + gid + ": " + whose + " bits give that user no search (x) permission");
            }
        }
    }

    static String modeString(int mode) {
        StringBuilder s = new StringBuilder("d");
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            s.append((mode & (1 << (8 - i))) != 0 ? rwx.charAt(i) : '-');
        }
        return s.toString();
    }
}
