package org.berth.driver.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.berth.driver.api.Flavor;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.InstanceStats;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * Without libvirt: which bulk records become stats. One domain's bad figures or unparsable metadata never costs the
 * other domains their sample, each is logged once, and unparsable metadata is read again a bounded number of samples
 * later.
 */
class StatsReaderTest {
    private static final String OWNER = "me";
    private final List<LogRecord> logged = new ArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            logged.add(r);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };
    /** Domain name to its inactive XML, as libvirt would give it (a missing name: undefined). */
    private final Map<String, String> definitions = new HashMap<>();
    private final List<String> reads = new ArrayList<>();

    @BeforeEach
    void listen() {
        Logger.getLogger(StatsReader.class.getName()).addHandler(handler);
    }

    @AfterEach
    void stopListening() {
        Logger.getLogger(StatsReader.class.getName()).removeHandler(handler);
    }

    private static InstanceSpec spec() {
        return new InstanceSpec(UUID.randomUUID(), "vm", new Flavor("f", 1, 256, 1, 0, 0), UUID.randomUUID().toString(),
                List.of(), Map.of(), true);
    }

    /** A domain XML with the spec in its metadata, owned by {@code owner}. */
    private static String domainXml(InstanceSpec spec, String owner) {
        Document doc = Xml.newDocument();
        Element domain = doc.createElement("domain");
        doc.appendChild(domain);
        Xml.text(domain, "name", InstanceSpec.backendName(spec.uuid()));
        SpecXml.write(Xml.child(domain, "metadata"), spec).setAttribute(SpecXml.OWNER, owner);
        return Xml.write(doc);
    }

    private static BulkStats.Record record(InstanceSpec spec, long vcpus) {
        return new BulkStats.Record(InstanceSpec.backendName(spec.uuid()), new TypedParams(Map.of("state.state", 1L,
                "cpu.time", 5L, "vcpu.current", vcpus)));
    }

    private List<UUID> sample(StatsReader reader, BulkStats.Record... records) {
        return reader.sample(List.of(records), name -> {
            reads.add(name);
            return definitions.get(name);
        }).stream().map(InstanceStats::uuid).toList();
    }

    @Test
    void aDomainWhoseFiguresDoNotMapIsLeftOutAloneAndLoggedOnce() {
        InstanceSpec good = spec();
        InstanceSpec odd = spec();
        definitions.put(InstanceSpec.backendName(good.uuid()), domainXml(good, OWNER));
        definitions.put(InstanceSpec.backendName(odd.uuid()), domainXml(odd, OWNER));
        // what a record's constructor did with a UINT vcpu.current of 2^32 - 1 cast to int before DomainStats
        // checked it: whatever one domain's mapping throws, the others are sampled
        StatsReader reader = new StatsReader(OWNER::equals, (uuid, spec, p) -> {
            if (p.number("vcpu.current") > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("stats.vcpus must be at least 0, was -1");
            }
            return DomainStats.of(uuid, spec, p);
        });
        BulkStats.Record broken = record(odd, 0xFFFF_FFFFL);
        for (int i = 0; i < 3; i++) {
            assertEquals(List.of(good.uuid()), sample(reader, record(good, 1), broken), "sample " + i);
        }
        assertEquals(1, logged.stream().filter(r -> r.getMessage().contains(odd.uuid().toString())).count(),
                "logged once, not per sample: " + logged);
        assertEquals(List.of(good.uuid(), odd.uuid()), sample(reader, record(good, 1), record(odd, 1)),
                "once its figures map it is back");
    }

    @Test
    void anUnparsableSpecIsLoggedOnceAndReadAgainBoundedly() {
        InstanceSpec good = spec();
        InstanceSpec bad = spec();
        String badName = InstanceSpec.backendName(bad.uuid());
        definitions.put(InstanceSpec.backendName(good.uuid()), domainXml(good, OWNER));
        definitions.put(badName, domainXml(bad, OWNER).replaceAll("vcpus=\"1\"", "vcpus=\"one\""));
        String theirs = InstanceSpec.backendName(UUID.randomUUID());
        definitions.put(theirs, domainXml(spec(), "someone-else"));
        StatsReader reader = new StatsReader(OWNER::equals);
        BulkStats.Record other = new BulkStats.Record(theirs, new TypedParams(Map.of("state.state", 1L)));

        for (long i = 0; i < StatsReader.RETRY_SAMPLES; i++) {
            assertEquals(List.of(good.uuid()), sample(reader, record(good, 1), record(bad, 1), other), "sample " + i);
        }
        assertEquals(1, reads.stream().filter(badName::equals).count(), "read once within " + StatsReader.RETRY_SAMPLES
                + " samples: " + reads);
        assertEquals(1, reads.stream().filter(theirs::equals).count(), "another owner's domain is read once");
        assertEquals(1, logged.stream().filter(r -> r.getMessage().contains(bad.uuid().toString())).count(), logged
                .toString());

        definitions.put(badName, domainXml(bad, OWNER)); // repaired (a hard reboot rewrites the metadata)
        assertEquals(List.of(good.uuid(), bad.uuid()), sample(reader, record(good, 1), record(bad, 1), other),
                "read again after " + StatsReader.RETRY_SAMPLES + " samples, and now in the sample");
        assertEquals(2, reads.stream().filter(badName::equals).count());
        assertEquals(1, reads.stream().filter(theirs::equals).count(), "another owner's domain is not read again");
        sample(reader, record(good, 1), record(bad, 1), other);
        assertEquals(2, reads.stream().filter(badName::equals).count(), "a parsed spec is kept");
        assertTrue(logged.size() == 1, logged.toString());
    }
}
