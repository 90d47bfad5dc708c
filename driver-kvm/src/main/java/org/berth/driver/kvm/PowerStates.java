package org.berth.driver.kvm;

import org.berth.driver.api.PowerState;
import org.libvirt.Domain;
import org.libvirt.DomainInfo.DomainState;
import org.libvirt.LibvirtException;

/** libvirt domain states to Nova's power states. */
final class PowerStates {
    private PowerStates() {
    }

    static PowerState of(Domain domain) throws LibvirtException {
        DomainState state = domain.getInfo().state;
        boolean saved = state == DomainState.VIR_DOMAIN_SHUTOFF && domain.hasManagedSaveImage() == 1;
        return map(state, saved);
    }

    /**
     * RUNNING/BLOCKED are RUNNING; PAUSED is PAUSED; shut off with a managed-save image is SUSPENDED;
     * SHUTDOWN/SHUTOFF are SHUTDOWN; CRASHED is CRASHED; anything else (PMSUSPENDED, unknown) is SUSPENDED or
     * NOSTATE.
     */
    static PowerState map(DomainState state, boolean managedSave) {
        if (state == null) {
            // libvirt-java 0.5.2 has no constant for VIR_DOMAIN_PMSUSPENDED (7)
            return PowerState.SUSPENDED;
        }
        return switch (state) {
            case VIR_DOMAIN_RUNNING, VIR_DOMAIN_BLOCKED -> PowerState.RUNNING;
            case VIR_DOMAIN_PAUSED -> PowerState.PAUSED;
            case VIR_DOMAIN_SHUTDOWN -> PowerState.SHUTDOWN;
            case VIR_DOMAIN_SHUTOFF -> managedSave ? PowerState.SUSPENDED : PowerState.SHUTDOWN;
            case VIR_DOMAIN_CRASHED -> PowerState.CRASHED;
            case VIR_DOMAIN_NOSTATE -> PowerState.NOSTATE;
        };
    }
}
