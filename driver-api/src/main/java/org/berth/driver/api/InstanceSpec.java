package org.berth.driver.api;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * What to spawn. Drivers store it in the backend itself (container labels, libvirt {@code <metadata>}) so that
 * {@link ComputeDriver#list()} returns it after an agent restart.
 *
 * @param uuid       the instance UUID; backend objects are named {@code berth-<uuid>}
 * @param name       the display name
 * @param flavor     the size
 * @param imageId    the id of the image in the {@link ImageStore}
 * @param vifs       network interfaces in guest order (eth0, eth1, ...); port ids and MACs unique
 * @param properties free-form settings (at most 64, keys {@code [a-z0-9_.:-]}, values up to 4096 chars), e.g.
 *                   {@code os_command_line} for a kernel boot, {@code command} for a container
 * @param powerOn    whether spawn powers the instance on (Nova always does; false leaves it SHUTDOWN)
 * @param guest      what the guest learns at boot (hostname, metadata, keys, user data: the config drive)
 */
public record InstanceSpec(UUID uuid, String name, Flavor flavor, String imageId, List<VifSpec> vifs,
                           Map<String, String> properties, boolean powerOn, GuestConfig guest) {
    private static final Pattern KEY = Pattern.compile("[a-z0-9_.:-]{1,128}");

    /** Property: a container's command as a JSON-free, whitespace-separated list is ambiguous; Berth uses one
     * argument per line ({@code \n}-separated), e.g. {@code "/bin/sh\n-c\necho hi"}. */
    public static final String COMMAND = "command";

    public InstanceSpec {
        Check.notNull(uuid, "instance.uuid");
        Check.name(name, "instance.name");
        Check.notNull(flavor, "instance.flavor");
        imageId = Ids.uuid(imageId, "instance.image_id");
        vifs = List.copyOf(Check.notNull(vifs, "instance.vifs"));
        if (vifs.size() > 16) {
            throw new IllegalArgumentException("instance.vifs: " + vifs.size() + " interfaces, at most 16 are allowed");
        }
        var ports = new HashSet<String>();
        var macs = new HashSet<String>();
        for (VifSpec vif : vifs) {
            if (!ports.add(vif.portId())) {
                throw new IllegalArgumentException("instance.vifs: port_id " + vif.portId() + " appears twice");
            }
            if (!macs.add(vif.mac())) {
                throw new IllegalArgumentException("instance.vifs: mac " + vif.mac() + " appears twice");
            }
        }
        properties = Map.copyOf(Check.notNull(properties, "instance.properties"));
        if (properties.size() > 64) {
            throw new IllegalArgumentException("instance.properties: " + properties.size() + " entries, at most 64");
        }
        properties.forEach((k, v) -> {
            if (!KEY.matcher(k).matches()) {
                throw new IllegalArgumentException("instance.properties: key '" + Check.printable(k)
                        + "' must be 1-128 characters of a-z 0-9 _ . : -");
            }
            if (v.length() > 4096) {
                throw new IllegalArgumentException("instance.properties." + k + ": " + v.length()
                        + " characters, at most 4096");
            }
        });
        Check.notNull(guest, "instance.guest");
    }

    /** A spec whose guest gets only the defaults for its name ({@link GuestConfig#forName}). */
    public InstanceSpec(UUID uuid, String name, Flavor flavor, String imageId, List<VifSpec> vifs,
                        Map<String, String> properties, boolean powerOn) {
        this(uuid, name, flavor, imageId, vifs, properties, powerOn, GuestConfig.forName(name));
    }

    /** The backend name of this instance: {@code berth-<uuid>}. */
    public String backendName() {
        return backendName(uuid);
    }

    public static String backendName(UUID uuid) {
        return "berth-" + uuid;
    }

    public String property(String key, String fallback) {
        return properties.getOrDefault(key, fallback);
    }

    /** A spec of a powered-on instance with no VIFs and no properties. */
    public static InstanceSpec of(UUID uuid, String name, Flavor flavor, String imageId) {
        return new InstanceSpec(uuid, name, flavor, imageId, List.of(), Map.of(), true);
    }

    public InstanceSpec withVifs(List<VifSpec> newVifs) {
        return new InstanceSpec(uuid, name, flavor, imageId, newVifs, properties, powerOn, guest);
    }

    public InstanceSpec withProperties(Map<String, String> newProperties) {
        return new InstanceSpec(uuid, name, flavor, imageId, vifs, newProperties, powerOn, guest);
    }

    public InstanceSpec withPowerOn(boolean on) {
        return new InstanceSpec(uuid, name, flavor, imageId, vifs, properties, on, guest);
    }

    public InstanceSpec withGuest(GuestConfig newGuest) {
        return new InstanceSpec(uuid, name, flavor, imageId, vifs, properties, powerOn, newGuest);
    }
}
