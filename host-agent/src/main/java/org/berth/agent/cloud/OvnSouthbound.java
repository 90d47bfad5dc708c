package org.berth.agent.cloud;

import java.time.Duration;
import java.util.List;
import org.berth.ovs.link.Commands;

/** Asks the OVN southbound DB whether a chassis is registered, with {@code ovn-sbctl} (an argument array, bounded). */
public final class OvnSouthbound implements Evacuate.SouthboundCheck {
    private static final Duration LIMIT = Duration.ofSeconds(15);

    @Override
    public boolean registered(String sb, String chassis) {
        String db = sb.matches("^(unix|tcp|ssl):.*") ? sb : "unix:" + sb;
        Commands.Result r = new Commands(LIMIT).tryRun(List.of("ovn-sbctl", "--db=" + db, "--timeout=10", "--bare",
                "--columns=name", "find", "Chassis", "name=" + chassis), null);
        if (r.exitCode() != 0) {
            throw new IllegalStateException("ovn-sbctl --db=" + db + " exited " + r.exitCode() + ": "
                    + r.stderr().strip());
        }
        return !r.stdout().isBlank();
    }
}
