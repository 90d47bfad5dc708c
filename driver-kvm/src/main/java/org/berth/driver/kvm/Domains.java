package org.berth.driver.kvm;

import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceInfo;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifPlugger;
import org.berth.driver.api.VifSpec;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.LibvirtException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/** The libvirt steps the driver's operations share: lookups, state, the stored spec, (re)definition, start. */
final class Domains {
    static final int XML_INACTIVE = 2;
    static final int AFFECT_LIVE = 1;
    static final int AFFECT_CONFIG = 2;

    final LibvirtSession session;
    final InstanceFiles files;
    final KvmConfig config;
    final Optional<VifPlugger> plugger;
    /** Stamped on every domain this driver defines ({@link DriverContext#owner()}). */
    final String owner;

    Domains(LibvirtSession session, InstanceFiles files, KvmConfig config, DriverContext context) {
        this.session = session;
        this.files = files;
        this.config = config;
        this.plugger = context.vifPlugger();
        this.owner = context.owner();
    }

    static Domain lookup(Connect c, UUID uuid) throws LibvirtException {
        return c.domainLookupByName(InstanceSpec.backendName(uuid));
    }

    static Domain lookupOrNull(Connect c, UUID uuid) throws LibvirtException {
        try {
            return lookup(c, uuid);
        } catch (LibvirtException e) {
            if (e.getError() != null && e.getError().getCode() == ErrorNumber.VIR_ERR_NO_DOMAIN) {
                return null;
            }
            throw e;
        }
    }

    /** The spec in the persistent definition's metadata (hot-plug updates only the persistent one). */
    static InstanceSpec specOf(Domain d, UUID uuid) throws LibvirtException {
        return SpecXml.read(d.getXMLDesc(XML_INACTIVE)).orElseThrow(() -> new DriverException.BackendFailure(
                LibvirtSession.BACKEND, "read instance " + uuid, "domain has no Berth metadata", null));
    }

    PowerState state(String operation, UUID uuid) {
        return session.call(operation, uuid, c -> PowerStates.of(lookup(c, uuid)));
    }

    InstanceInfo info(UUID uuid) {
        return session.call("get info", uuid, c -> {
            Domain d = lookup(c, uuid);
            return new InstanceInfo(uuid, PowerStates.of(d), specOf(d, uuid), d.getName());
        });
    }

    InstanceSpec spec(String operation, UUID uuid) {
        return session.call(operation, uuid, c -> specOf(lookup(c, uuid), uuid));
    }

    /** Defines (or redefines: hard reboot) the persistent domain from the spec; a redefined one keeps its owner. */
    void define(InstanceSpec spec, DomainXml.Layout layout) {
        session.call("define domain", spec.uuid(), c -> {
            Domain existing = lookupOrNull(c, spec.uuid());
            String keep = existing == null ? owner : SpecXml.owner(existing.getXMLDesc(XML_INACTIVE));
            return c.domainDefineXML(DomainXml.build(spec, keep, config.virtType(), config.guestOffloads(), layout,
                    plugger.isPresent()));
        });
    }

    /**
     * Plugs the VIFs (idempotent) and starts the domain; a managed-save image is restored, paused or not. The switch
     * attaches the taps while QEMU starts; the VIFs are waited for before this returns.
     */
    void start(String operation, InstanceSpec spec) {
        plugTaps(spec.uuid(), spec.vifs());
        session.call(operation, spec.uuid(), c -> {
            Domain d = lookup(c, spec.uuid());
            createWhenStopped(d);
            if (PowerStates.of(d) == PowerState.PAUSED) {
                d.resume();
            }
            return null;
        });
        try {
            awaitAttached(spec.uuid(), spec.vifs());
        } catch (RuntimeException e) {
            // As Nova with vif_plugging_is_fatal: a guest whose VIFs the switch did not attach is not left running.
            try {
                forceOff(operation, spec.uuid());
            } catch (RuntimeException stop) {
                e.addSuppressed(stop);
            }
            throw e;
        }
    }

    /**
     * Starts a shut-off domain. Right after a guest powered itself off, libvirt can still be reaping the QEMU
     * process and refuses create() with "operation invalid"; that window is short, so retry for up to 5 s.
     */
    private static void createWhenStopped(Domain d) throws LibvirtException {
        for (int attempt = 1; ; attempt++) {
            try {
                d.create();
                return;
            } catch (LibvirtException e) {
                boolean transient_ = e.getError() != null && e.getError().getCode() == ErrorNumber.VIR_ERR_OPERATION_INVALID
                        && d.isActive() == 0;
                if (!transient_ || attempt >= 20) {
                    throw e;
                }
                try {
                    Thread.sleep(250);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    /** Plugs the VIFs (idempotent) and waits until the switch attached them. */
    void plugAll(UUID uuid, List<VifSpec> vifs) {
        plugTaps(uuid, vifs);
        awaitAttached(uuid, vifs);
    }

    private void plugTaps(UUID uuid, List<VifSpec> vifs) {
        plugger.ifPresent(p -> vifs.forEach(vif -> p.plugTap(uuid, vif)));
    }

    void awaitAttached(UUID uuid, List<VifSpec> vifs) {
        plugger.ifPresent(p -> vifs.forEach(vif -> p.awaitAttached(uuid, vif)));
    }

    void unplugAll(UUID uuid, List<VifSpec> vifs) {
        plugger.ifPresent(p -> vifs.forEach(vif -> p.unplug(uuid, vif)));
    }

    /** Replaces the Berth metadata of the persistent definition (libvirt-java has no virDomainSetMetadata). */
    void redefineMetadata(Connect c, Domain d, InstanceSpec spec) throws LibvirtException {
        Document doc = Xml.parse(d.getXMLDesc(XML_INACTIVE));
        Element domain = doc.getDocumentElement();
        Element old = Xml.first(domain, SpecXml.NS, "instance");
        Element metadata = old != null ? (Element) old.getParentNode() : Xml.child(domain, "metadata");
        String owner = old != null && old.hasAttribute(SpecXml.OWNER) ? old.getAttribute(SpecXml.OWNER) : null;
        if (old != null) {
            metadata.removeChild(old);
        }
        Element written = SpecXml.write(metadata, spec);
        if (owner != null) {
            written.setAttribute(SpecXml.OWNER, owner); // the owner stays whoever created the domain
        }
        c.domainDefineXML(Xml.write(doc));
        files.writeSpec(spec);
    }

    /** Powers off now: destroy if active, drop a managed-save image. Returns the spec found, if any. */
    Optional<InstanceSpec> forceOff(String operation, UUID uuid) {
        return session.call(operation, uuid, c -> {
            Domain d = lookupOrNull(c, uuid);
            if (d == null) {
                return Optional.<InstanceSpec>empty();
            }
            Optional<InstanceSpec> spec = Optional.empty();
            try {
                spec = Optional.of(specOf(d, uuid));
            } catch (RuntimeException e) {
                // a definition without metadata: the caller falls back to the spec in the instance directory
            }
            if (d.isActive() == 1) {
                try {
                    d.destroy();
                } catch (LibvirtException e) {
                    if (d.isActive() == 1) {
                        throw e;
                    }
                }
            }
            if (d.hasManagedSaveImage() == 1) {
                d.managedSaveRemove();
            }
            return spec;
        });
    }
}
