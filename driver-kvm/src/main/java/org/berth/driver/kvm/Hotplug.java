package org.berth.driver.kvm;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.berth.driver.api.DriverException;
import org.berth.driver.api.InstanceSpec;
import org.berth.driver.api.PowerState;
import org.berth.driver.api.VifSpec;
import org.libvirt.Domain;

/**
 * Interface hot-plug: the tap from the VIF plugger, libvirt's device API (live + config), metadata in sync, and the
 * config drive rewritten so that its network_data.json lists the VIFs as they are now (the guest reads it at its
 * next boot, as on Nova).
 */
final class Hotplug {
    private final Domains domains;

    Hotplug(Domains domains) {
        this.domains = domains;
    }

    void attach(UUID uuid, VifSpec vif) {
        if (vif == null) {
            throw new IllegalArgumentException("vif: must be given");
        }
        if (domains.plugger.isEmpty()) {
            throw new DriverException.VifFailure(vif.portId(), "this host has no VIF plugger", null);
        }
        PowerState state = domains.state("attach interface", uuid);
        if (state != PowerState.RUNNING) {
            throw new DriverException.InvalidInstanceState(uuid, "attach interface", state);
        }
        InstanceSpec spec = domains.spec("attach interface", uuid);
        if (spec.vifs().stream().anyMatch(v -> v.portId().equals(vif.portId()))) {
            return;
        }
        List<VifSpec> vifs = new ArrayList<>(spec.vifs());
        vifs.add(vif);
        InstanceSpec updated = spec.withVifs(vifs);
        domains.plugger.get().plugTap(uuid, vif);
        try {
            domains.plugger.get().awaitAttached(uuid, vif);
            String xml = DomainXml.interfaceXml(vif, domains.config.guestOffloads());
            domains.session.call("attach interface", uuid, c -> {
                Domain d = Domains.lookup(c, uuid);
                d.attachDeviceFlags(xml, Domains.AFFECT_LIVE | Domains.AFFECT_CONFIG);
                domains.redefineMetadata(c, d, updated);
                return null;
            });
        } catch (RuntimeException e) {
            try {
                domains.plugger.get().unplug(uuid, vif);
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        domains.files.rewriteConfigDriveAfterHotplug(updated);
    }

    void detach(UUID uuid, String portId) {
        if (portId == null) {
            throw new IllegalArgumentException("port id: must be given");
        }
        InstanceSpec spec = domains.spec("detach interface", uuid);
        VifSpec vif = spec.vifs().stream().filter(v -> v.portId().equalsIgnoreCase(portId)).findFirst().orElse(null);
        if (vif == null) {
            return;
        }
        List<VifSpec> vifs = new ArrayList<>(spec.vifs());
        vifs.remove(vif);
        InstanceSpec updated = spec.withVifs(vifs);
        String xml = DomainXml.interfaceXml(vif, domains.config.guestOffloads());
        domains.session.call("detach interface", uuid, c -> {
            Domain d = Domains.lookup(c, uuid);
            if (domains.plugger.isPresent()) {
                int flags = d.isActive() == 1 ? Domains.AFFECT_LIVE | Domains.AFFECT_CONFIG : Domains.AFFECT_CONFIG;
                d.detachDeviceFlags(xml, flags);
            }
            domains.redefineMetadata(c, d, updated);
            return null;
        });
        domains.plugger.ifPresent(p -> p.unplug(uuid, vif));
        domains.files.rewriteConfigDriveAfterHotplug(updated);
    }
}
