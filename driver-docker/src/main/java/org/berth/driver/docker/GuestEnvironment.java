package org.berth.driver.docker;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.berth.driver.api.GuestConfig;

/**
 * Nova's server metadata as environment variables, as Zun passes environment to its containers: key {@code k} becomes
 * {@value #PREFIX}{@code K} with {@code k} upper-cased and every character outside {@code [A-Z0-9_]} turned into
 * {@code _} ({@code build-id} → {@code BERTH_META_BUILD_ID}). Set whether or not the container gets the metadata
 * files.
 */
final class GuestEnvironment {
    static final String PREFIX = "BERTH_META_";

    private GuestEnvironment() {
    }

    /** The variable of one metadata key. */
    static String variable(String key) {
        return PREFIX + key.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9_]", "_");
    }

    /**
     * {@code NAME=value} for every metadata entry. Two keys that map to one variable would leave the guest seeing
     * only one of them, silently: refused (an {@link IllegalArgumentException}, the driver's invalid-spec error),
     * naming both keys. So is a value with a NUL character, which no environment can carry.
     */
    static List<String> of(GuestConfig guest) {
        Map<String, String> seen = new HashMap<>();
        List<String> env = new ArrayList<>();
        guest.metadata().forEach((key, value) -> {
            String name = variable(key);
            String other = seen.putIfAbsent(name, key);
            if (other != null) {
                throw new IllegalArgumentException("instance.metadata: keys '" + other + "' and '" + key
                        + "' both become the environment variable " + name + " (upper case, characters outside "
                        + "A-Z 0-9 _ turned into '_'); rename one of them");
            }
            if (value.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("instance.metadata." + key
                        + ": contains a NUL character, which an environment variable cannot hold");
            }
            env.add(name + "=" + value);
        });
        return env;
    }
}
