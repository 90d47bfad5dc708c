package org.berth.driver.api;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What a guest learns about itself at boot: Nova's config drive and metadata. VMs read it from a config drive
 * (ISO 9660 labelled {@code config-2}), containers from files at {@code /run/berth/metadata} and environment
 * variables. Kept in the spec, so a hard reboot or a rebuild writes the same documents again.
 *
 * @param hostname         the guest's host name (RFC 1123 label, 1-63 characters); by default made from the name
 *                         as Nova does ({@link #hostnameFor})
 * @param metadata         Nova's server metadata: at most 128 entries, keys 1-255 of {@code [A-Za-z0-9-_:. ]},
 *                         values up to 255 characters
 * @param publicKeys       key pair name → OpenSSH public key ({@code ssh-ed25519 AAAA… comment}), at most 16
 * @param userData         user data as the API takes it (base64, at most 65535 bytes decoded), or empty. Berth never
 *                         runs it: the guest's cloud-init does
 * @param configDrive      whether a VM gets a config drive; empty = the driver's default (on, as Nova's
 *                         {@code force_config_drive}). A container always gets the documents unless this is false
 * @param projectId        the owning project for {@code meta_data.json}, or empty
 * @param availabilityZone the availability zone written to {@code meta_data.json} (the request's, default
 *                         {@value #DEFAULT_ZONE})
 */
public record GuestConfig(String hostname, Map<String, String> metadata, Map<String, String> publicKeys,
                          Optional<String> userData, Optional<Boolean> configDrive, Optional<String> projectId,
                          String availabilityZone) {
    /** Nova's limit on decoded user data. */
    public static final int MAX_USER_DATA = 65535;
    public static final int MAX_METADATA = 128;
    public static final int MAX_KEYS = 16;
    public static final String DEFAULT_ZONE = "nova";

    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
    private static final Pattern META_KEY = Pattern.compile("[A-Za-z0-9-_:. ]{1,255}");
    private static final Pattern KEY_NAME = Pattern.compile("[A-Za-z0-9 _-]{1,255}");
    private static final Pattern ZONE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,254}");
    private static final Pattern KEY_TYPE = Pattern.compile(
            "ssh-rsa|ssh-dss|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\\.com"
                    + "|sk-ecdsa-sha2-nistp256@openssh\\.com");

    public GuestConfig {
        hostname = hostname(Check.notNull(hostname, "instance.hostname"));
        metadata = metadata(Check.notNull(metadata, "instance.metadata"));
        publicKeys = publicKeys(Check.notNull(publicKeys, "instance.public_keys"));
        Check.notNull(userData, "instance.user_data");
        userData.ifPresent(GuestConfig::decode);
        Check.notNull(configDrive, "instance.config_drive");
        Check.notNull(projectId, "instance.project_id");
        projectId.ifPresent(p -> {
            if (p.isEmpty() || p.length() > 255 || !p.chars().allMatch(c -> c > 32 && c < 127)) {
                throw new IllegalArgumentException("instance.project_id: '" + Check.printable(p)
                        + "' must be 1-255 printable characters without spaces");
            }
        });
        Check.notBlank(availabilityZone, "availability_zone");
        if (!ZONE.matcher(availabilityZone).matches()) {
            throw new IllegalArgumentException("availability_zone: '" + Check.printable(availabilityZone)
                    + "' must be 1-255 characters of letters, digits and . _ : - starting with a letter or digit");
        }
    }

    /** Defaults for an instance called {@code name}: its hostname, nothing else, driver's default for the drive. */
    public static GuestConfig forName(String name) {
        return new GuestConfig(hostnameFor(name), Map.of(), Map.of(), Optional.empty(), Optional.empty(),
                Optional.empty(), DEFAULT_ZONE);
    }

    /**
     * Nova's {@code sanitize_hostname}: spaces, '_' and '.' become '-', other characters outside {@code [A-Za-z0-9-]}
     * go, lower case, no leading or trailing '-', at most 63 characters; {@code "instance"} if nothing is left.
     */
    public static String hostnameFor(String name) {
        String h = Check.notNull(name, "instance.name").replaceAll("[ _.]", "-").replaceAll("[^A-Za-z0-9-]", "")
                .toLowerCase(Locale.ROOT);
        h = h.replaceAll("^-+", "");
        if (h.length() > 63) {
            h = h.substring(0, 63);
        }
        h = h.replaceAll("-+$", "");
        return h.isEmpty() ? "instance" : h;
    }

    /** The decoded user data, or empty. */
    public Optional<byte[]> userDataBytes() {
        return userData.map(GuestConfig::decode);
    }

    /** Whether a VM gets a config drive, given the driver's default. */
    public boolean configDriveOr(boolean driverDefault) {
        return configDrive.orElse(driverDefault);
    }

    public GuestConfig withAvailabilityZone(String zone) {
        return new GuestConfig(hostname, metadata, publicKeys, userData, configDrive, projectId, zone);
    }

    private static String hostname(String h) {
        if (h.length() > 63 || !LABEL.matcher(h).matches()) {
            throw new IllegalArgumentException("instance.hostname: '" + Check.printable(h) + "' must be an RFC 1123 "
                    + "host name: 1-63 characters of a-z 0-9 and '-', not starting or ending with '-'");
        }
        return h;
    }

    private static Map<String, String> metadata(Map<String, String> m) {
        if (m.size() > MAX_METADATA) {
            throw new IllegalArgumentException("instance.metadata: " + m.size() + " entries, at most " + MAX_METADATA);
        }
        var sorted = new TreeMap<String, String>();
        m.forEach((k, v) -> {
            if (k == null || !META_KEY.matcher(k).matches()) {
                throw new IllegalArgumentException("instance.metadata: key '" + Check.printable(String.valueOf(k))
                        + "' must be 1-255 characters of letters, digits, space and - _ : .");
            }
            if (v == null || v.length() > 255) {
                throw new IllegalArgumentException("instance.metadata." + k + ": must be a string of at most 255 "
                        + "characters");
            }
            sorted.put(k, v);
        });
        return Collections.unmodifiableMap(sorted);
    }

    private static Map<String, String> publicKeys(Map<String, String> keys) {
        if (keys.size() > MAX_KEYS) {
            throw new IllegalArgumentException("instance.public_keys: " + keys.size() + " keys, at most " + MAX_KEYS);
        }
        var sorted = new TreeMap<String, String>();
        keys.forEach((name, key) -> {
            if (name == null || !KEY_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("instance.public_keys: name '" + Check.printable(String.valueOf(name))
                        + "' must be 1-255 characters of letters, digits, space, '_' and '-'");
            }
            sorted.put(name, openSshKey(key, "instance.public_keys." + name));
        });
        return Collections.unmodifiableMap(sorted);
    }

    /**
     * Checks an OpenSSH public key line: {@code <type> <base64 blob> [comment]}, where the blob decodes and starts
     * with the same type name (as {@code ssh-keygen -l} would check). Returns the key with surrounding spaces cut.
     */
    static String openSshKey(String key, String field) {
        if (key == null || key.isBlank()) {
            throw new IllegalArgumentException(field + ": must be an OpenSSH public key");
        }
        String k = key.strip();
        if (k.length() > 16384 || k.chars().anyMatch(c -> c == '\n' || c == '\r' || c == 0)) {
            throw new IllegalArgumentException(field + ": must be one line of at most 16384 characters");
        }
        String[] parts = k.split(" +", 3);
        if (parts.length < 2 || !KEY_TYPE.matcher(parts[0]).matches()) {
            throw new IllegalArgumentException(field + ": '" + Check.printable(k) + "' is not an OpenSSH public key "
                    + "(expected '<type> <base64> [comment]' with type ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...)");
        }
        byte[] blob;
        try {
            blob = Base64.getDecoder().decode(parts[1]);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(field + ": the key's second word is not base64");
        }
        byte[] type = parts[0].getBytes(StandardCharsets.US_ASCII);
        boolean match = blob.length >= 4 + type.length
                && ((blob[0] & 0xff) << 24 | (blob[1] & 0xff) << 16 | (blob[2] & 0xff) << 8 | blob[3] & 0xff) == type.length
                && Arrays.equals(blob, 4, 4 + type.length, type, 0, type.length);
        if (!match) {
            throw new IllegalArgumentException(field + ": the key data does not encode a " + parts[0] + " key");
        }
        return k;
    }

    private static byte[] decode(String base64) {
        byte[] data;
        try {
            data = Base64.getMimeDecoder().decode(base64);
            // the MIME decoder skips junk silently; insist on base64 characters only
            if (!base64.chars().allMatch(c -> Character.isLetterOrDigit(c) && c < 128 || c == '+' || c == '/'
                    || c == '=' || c == '\n' || c == '\r')) {
                throw new IllegalArgumentException();
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("instance.user_data: must be base64 (RFC 4648) text");
        }
        if (data.length > MAX_USER_DATA) {
            throw new IllegalArgumentException("instance.user_data: " + data.length + " bytes decoded, at most "
                    + MAX_USER_DATA);
        }
        return data;
    }
}
