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
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;
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
 * <p>
 * One domain never costs the others their sample: a domain of this owner whose spec does not parse is logged once
 * and read again every {@link #RETRY_SAMPLES} samples (it is absent meanwhile), and a domain whose figures do not
 * map to {@link InstanceStats} (a record's rule broken) is left out of that sample, logged once until it maps again.
 */
final class StatsReader {
    private static final Logger LOG = Logger.getLogger(StatsReader.class.getName());
    /** Samples between two reads of a definition whose spec did not parse (about 3 min at the agent's default 10 s). */
    static final long RETRY_SAMPLES = 20;

    private final Predicate<String> owns;
    private final Mapper mapper;
    /** A domain's spec, or empty for a domain that is not this owner's Berth domain (or whose spec did not parse). */
    private final Map<UUID, Optional<InstanceSpec>> known = new ConcurrentHashMap<>();
    /** This owner's domains whose spec did not parse: the sample at which the definition is read again. */
    private final Map<UUID, Long> retryAt = new ConcurrentHashMap<>();
    /** Domains whose figures did not map in their last sample (logged once). */
    private final Set<UUID> unmapped = ConcurrentHashMap.newKeySet();
    private final AtomicLong lookups = new AtomicLong();
    private final AtomicLong samples = new AtomicLong();

    /** How one domain's record becomes stats ({@link DomainStats#of}; a test gives one that fails for a domain). */
    interface Mapper {
        InstanceStats of(UUID uuid, InstanceSpec spec, TypedParams params);
    }

    /** {@code owns} tells whether a domain's owner attribute is this driver's owner. */
    StatsReader(Predicate<String> owns) {
        this(owns, DomainStats::of);
    }

    StatsReader(Predicate<String> owns, Mapper mapper) {
        this.owns = owns;
        this.mapper = mapper;
    }

    /** Domain definitions read so far (tests count them: a warm sample reads none). */
    long lookups() {
        return lookups.get();
    }

    void forget(UUID uuid) {
        known.remove(uuid);
        retryAt.remove(uuid);
    }

    /** Runs on the libvirt pool, inside one session call. */
    List<InstanceStats> sample(Connect c) {
        return sample(BulkStats.all(c), name -> {
            try {
                return c.domainLookupByName(name).getXMLDesc(Domains.XML_INACTIVE);
            } catch (LibvirtException e) {
                return null;
            }
        });
    }

    /**
     * The bulk call's records as stats; {@code definition} gives a domain's inactive XML by name, null when it is gone
     * or cannot be read now (then a later sample tries again).
     */
    List<InstanceStats> sample(List<BulkStats.Record> records, Function<String, String> definition) {
        long sample = samples.incrementAndGet();
        List<InstanceStats> result = new ArrayList<>();
        Set<UUID> seen = new HashSet<>();
        for (BulkStats.Record r : records) {
            UUID uuid = uuidOf(r.name());
            if (uuid == null) {
                continue; // not one of Berth's
            }
            seen.add(uuid);
            Optional<InstanceSpec> spec = known.get(uuid);
            if (spec == null || spec.isPresent() && !namesEveryTap(spec.get(), r.params())
                    || retryAt.getOrDefault(uuid, Long.MAX_VALUE) <= sample) {
                spec = read(definition, uuid, r.name(), sample);
                if (spec == null) {
                    continue; // undefined since the bulk call: absent
                }
                known.put(uuid, spec);
            }
            if (spec.isPresent()) {
                map(uuid, spec.get(), r.params()).ifPresent(result::add);
            }
        }
        known.keySet().retainAll(seen); // undefined domains
        retryAt.keySet().retainAll(seen);
        unmapped.retainAll(seen);
        return result;
    }

    private Optional<InstanceStats> map(UUID uuid, InstanceSpec spec, TypedParams params) {
        try {
            InstanceStats stats = mapper.of(uuid, spec, params);
            unmapped.remove(uuid);
            return Optional.of(stats);
        } catch (RuntimeException e) {
            if (unmapped.add(uuid)) {
                LOG.log(Level.WARNING, "instance " + uuid + ": libvirt's statistics of " + InstanceSpec.backendName(uuid)
                        + " do not map to instance stats, left out of the samples until they do: " + e.getMessage()
                        + "; statistics: " + params.values());
            }
            return Optional.empty();
        }
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
     * The domain's spec from its persistent definition, empty when it is not this owner's Berth domain (or its spec
     * does not parse: read again {@link #RETRY_SAMPLES} samples later); null when it is gone (undefined after the bulk
     * call) or cannot be read now (then the next sample tries again).
     */
    private Optional<InstanceSpec> read(Function<String, String> definition, UUID uuid, String name, long sample) {
        lookups.incrementAndGet();
        String xml = definition.apply(name);
        if (xml == null) {
            return null;
        }
        Element meta = SpecXml.root(xml).orElse(null);
        if (meta == null || !owns.test(SpecXml.owner(meta))) {
            return Optional.empty(); // not Berth's, or another Berth user's (a conformance run beside the agent)
        }
        InstanceSpec spec;
        try {
            spec = SpecXml.read(meta);
        } catch (RuntimeException e) { // a missing element is a NullPointerException, a bad number an IAE
            if (retryAt.put(uuid, sample + RETRY_SAMPLES) == null) {
                LOG.log(Level.WARNING, "instance " + uuid + ": the Berth metadata of domain " + name + " does not "
                        + "parse (" + e + "); it is left out of the stats and read again every " + RETRY_SAMPLES
                        + " samples");
            }
            return Optional.empty();
        }
        retryAt.remove(uuid);
        return spec.uuid().equals(uuid) ? Optional.of(spec) : Optional.empty();
    }
}
