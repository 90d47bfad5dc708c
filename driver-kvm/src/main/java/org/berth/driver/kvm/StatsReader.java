package org.berth.driver.kvm;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.berth.driver.api.VifSpec;
import org.libvirt.Connect;
import org.libvirt.LibvirtException;
import org.w3c.dom.Element;

/**
 * {@code stats()}: one {@link BulkStats} call, then only Berth's domains of this driver's owner, the same filter as
 * list(). Whose a domain is, and its spec (the VIFs' port ids), are in the domain's metadata, which the bulk call does
 * not return: they are read once per domain and kept, so a steady sample is that one call. A cached spec is read
 * again when libvirt reports a tap it does not name (an interface hot-plugged by another driver of the same owner);
 * the driver forgets a uuid itself when it spawns, destroys or hot-plugs it.
 */
final class StatsReader {
    private final Predicate<String> owns;
    /** A domain's spec, or empty for a domain that is not this owner's Berth domain. */
    private final Map<UUID, Optional<InstanceSpec>> known = new ConcurrentHashMap<>();
    private final AtomicLong lookups = new AtomicLong();

    /** {@code owns} tells whether a domain's owner attribute is this driver's owner. */
    StatsReader(Predicate<String> owns) {
        this.owns = owns;
    }

    /** Domain definitions read so far (tests count them: a warm sample reads none). */
    long lookups() {
        return lookups.get();
    }

    void forget(UUID uuid) {
        known.remove(uuid);
    }

    /** Runs on the libvirt pool, inside one session call. */
    List<InstanceStats> sample(Connect c) {
        List<InstanceStats> result = new ArrayList<>();
        Set<UUID> seen = new HashSet<>();
        for (BulkStats.Record r : BulkStats.all(c)) {
            UUID uuid = uuidOf(r.name());
            if (uuid == null) {
                continue; // not one of Berth's
            }
            seen.add(uuid);
            Optional<InstanceSpec> spec = known.get(uuid);
            if (spec == null || spec.isPresent() && !namesEveryTap(spec.get(), r.params())) {
                spec = read(c, uuid, r.name());
                if (spec == null) {
                    continue; // undefined since the bulk call: absent
                }
                known.put(uuid, spec);
            }
            if (spec.isPresent()) {
                result.add(DomainStats.of(uuid, spec.get(), r.params()));
            }
        }
        known.keySet().retainAll(seen); // undefined domains
        return result;
    }

    private static UUID uuidOf(String name) {
        if (!name.startsWith("berth-")) {
            return null;
        }
        try {
            return UUID.fromString(name.substring("berth-".length()));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean namesEveryTap(InstanceSpec spec, TypedParams p) {
        Set<String> taps = new HashSet<>();
        spec.vifs().stream().map(VifSpec::devName).forEach(taps::add);
        long count = p.number("net.count");
        for (int i = 0; i < count; i++) {
            if (!p.string("net." + i + ".name").map(taps::contains).orElse(true)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The domain's spec from its persistent definition, empty when it is not this owner's Berth domain; null when it
     * is gone (undefined after the bulk call) or cannot be read now (then the next sample tries again).
     */
    private Optional<InstanceSpec> read(Connect c, UUID uuid, String name) {
        lookups.incrementAndGet();
        String xml;
        try {
            xml = c.domainLookupByName(name).getXMLDesc(Domains.XML_INACTIVE);
        } catch (LibvirtException e) {
            return null;
        }
        Element meta = SpecXml.root(xml).orElse(null);
        if (meta == null || !owns.test(SpecXml.owner(meta))) {
            return Optional.empty(); // not Berth's, or another Berth user's (a conformance run beside the agent)
        }
        try {
            InstanceSpec spec = SpecXml.read(meta);
            return spec.uuid().equals(uuid) ? Optional.of(spec) : Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
