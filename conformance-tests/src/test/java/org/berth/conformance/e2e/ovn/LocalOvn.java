package org.berth.conformance.e2e.ovn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.berth.conformance.host.HostCommand;
import org.berth.ovs.OvsVifConfig;

/**
 * OVN for one test, on this host only: the Northbound and Southbound databases (ovsdb-server on unix sockets in a
 * temporary directory), ovn-northd, and ovn-controller bound to the host's Open_vSwitch database with an
 * integration bridge of the test's own ({@code external_ids:ovn-bridge}), so br-int and the tests using it are not
 * touched. Nothing listens on a network address; Geneve is configured on 127.0.0.1 but, with one chassis, no tunnel
 * is ever made.
 *
 * <p>{@link #close()} stops the daemons (ovn-controller first, so it removes its chassis), removes the external_ids
 * keys it set and the bridge, and deletes the directory; {@link #leftovers()} then checks the host for each of them.
 */
final class LocalOvn implements AutoCloseable {
    private static final Duration COMMAND = Duration.ofSeconds(30);
    private static final Duration STOP = Duration.ofSeconds(15);
    private static final Path SCHEMAS = Path.of("/usr/share/ovn");
    private static final List<String> PROGRAMS = List.of("ovsdb-tool", "ovsdb-server", "ovn-northd", "ovn-controller",
            "ovn-nbctl", "ovn-sbctl", "ovn-appctl", "ovn-trace", "ovs-vsctl", "ovs-ofctl", "ovs-appctl");
    /** The keys of the host's Open_vSwitch external_ids that make ovn-controller a chassis. */
    private static final List<String> CHASSIS_KEYS = List.of("ovn-remote", "ovn-bridge");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A daemon this fixture started: stopped through its control socket, checked by pid. */
    private record Daemon(String name, long pid, String appctl, Path controlSocket) {
    }

    private final Path dir;
    private final String bridge;
    private final Map<String, String> idsBefore;
    private final List<String> idsAdded = new ArrayList<>();
    private final List<Daemon> daemons = new ArrayList<>();
    private final List<String> closeProblems = new ArrayList<>();
    private final Thread shutdownHook = new Thread(this::close, "berth-local-ovn-stop");
    private String chassis;
    private boolean bridgeCreated;
    private boolean closed;

    private LocalOvn(Path dir, String bridge, Map<String, String> idsBefore) {
        this.dir = dir;
        this.bridge = bridge;
        this.idsBefore = idsBefore;
    }

    /**
     * Starts OVN with {@code bridge} (which must not exist) as its integration bridge.
     *
     * @throws AssertionError naming what is missing when OVN is not installed, or when this host is already an OVN
     *                        chassis (the test would take its configuration over)
     */
    static LocalOvn start(String bridge) {
        requireInstalled();
        Map<String, String> ids = openVswitchExternalIds();
        for (String key : CHASSIS_KEYS) {
            if (ids.containsKey(key)) {
                throw new AssertionError("this host's Open_vSwitch is already an OVN chassis (external_ids:" + key + "="
                        + ids.get(key) + "); the OVN test configures its own and will not take that one over");
            }
        }
        Path dir;
        try {
            // Short path: the unix sockets in it must fit sun_path (108 bytes).
            dir = Files.createTempDirectory(Path.of("/var/tmp"), "berth-ovn-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory for OVN under /var/tmp", e);
        }
        LocalOvn ovn = new LocalOvn(dir, bridge, ids);
        Runtime.getRuntime().addShutdownHook(ovn.shutdownHook);
        try {
            ovn.startCentral();
            ovn.startChassis();
            return ovn;
        } catch (RuntimeException | Error e) {
            ovn.close();
            throw e;
        }
    }

    private static void requireInstalled() {
        var missing = new ArrayList<String>();
        PROGRAMS.stream().filter(p -> HostCommand.find(p).isEmpty()).forEach(missing::add);
        Stream.of("ovn-nb.ovsschema", "ovn-sb.ovsschema").map(SCHEMAS::resolve).filter(p -> !Files.isRegularFile(p))
                .forEach(p -> missing.add(p.toString()));
        if (!missing.isEmpty()) {
            throw new AssertionError("OVN is not installed on this host (missing " + missing
                    + "): scripts/host-setup.sh installs the Debian packages ovn-central and ovn-host");
        }
        // Two ovn-controllers on one Open_vSwitch database would fight over it (a systemd host may run ovn-host's).
        List<Long> controllers = processes().filter(p -> comm(p).equals("ovn-controller"))
                .map(p -> Long.parseLong(p.getFileName().toString())).filter(LocalOvn::alive).toList();
        if (!controllers.isEmpty()) {
            throw new AssertionError("an ovn-controller already runs on this host (pid " + controllers
                    + "); stop it (e.g. systemctl stop ovn-host) before the OVN test");
        }
        if (!Files.exists(Path.of("/var/run/openvswitch/db.sock"))) {
            throw new AssertionError("ovsdb-server of Open vSwitch is not running (no /var/run/openvswitch/db.sock): "
                    + "run scripts/host-setup.sh");
        }
    }

    private void startCentral() {
        for (String db : List.of("nb", "sb")) {
            run("ovsdb-tool", "create", path(db + ".db"), SCHEMAS.resolve("ovn-" + db + ".ovsschema").toString());
            startDaemon(db + " ovsdb-server", "ovs-appctl", Map.of(), dir.resolve(db + ".ctl"), "ovsdb-server",
                    path(db + ".db"), "--remote=punix:" + path(db + ".sock"), "--unixctl=" + path(db + ".ctl"),
                    "--pidfile=" + path(db + ".pid"), "--log-file=" + path(db + ".log"),
                    "--detach", "--no-chdir", "-vconsole:off");
        }
        startDaemon("ovn-northd", "ovn-appctl", Map.of(), dir.resolve("northd.ctl"), "ovn-northd",
                "--ovnnb-db=" + nbDb(), "--ovnsb-db=" + sbDb(), "--unixctl=" + path("northd.ctl"),
                "--pidfile=" + path("northd.pid"), "--log-file=" + path("northd.log"),
                "--detach", "--no-chdir", "-vconsole:off");
        nbctl("--wait=sb", "sync"); // northd is connected to both databases
    }

    private void startChassis() {
        bridgeCreated = true; // set first: a failure half way may still have created it
        run("ovs-vsctl", "--timeout=10", "add-br", bridge, "--", "set", "Bridge", bridge,
                "datapath_type=" + OvsVifConfig.Datapath.AUTO.ovsValue(), "fail_mode=secure",
                "other_config:disable-in-band=true");
        Map<String, String> ids = new LinkedHashMap<>();
        chassis = idsBefore.get("system-id");
        if (chassis == null) {
            chassis = UUID.randomUUID().toString();
            ids.put("system-id", chassis);
        }
        ids.put("ovn-remote", sbDb());
        ids.put("ovn-encap-type", "geneve");
        ids.put("ovn-encap-ip", "127.0.0.1");
        ids.put("ovn-bridge", bridge);
        var args = new ArrayList<>(List.of("--timeout=10", "set", "Open_vSwitch", "."));
        ids.forEach((k, v) -> {
            if (!idsBefore.containsKey(k)) {
                idsAdded.add(k);
            }
            args.add("external_ids:" + k + "=\"" + v + "\"");
        });
        run("ovs-vsctl", args.toArray(String[]::new));
        // ovn-controller has no --unixctl: its control socket goes to OVN_RUNDIR, i.e. here.
        startDaemon("ovn-controller", "ovn-appctl", Map.of("OVN_RUNDIR", dir.toString()), null, "ovn-controller",
                "unix:/var/run/openvswitch/db.sock", "--pidfile=" + path("ovn-controller.pid"),
                "--log-file=" + path("ovn-controller.log"), "--detach", "--no-chdir", "-vconsole:off");
        poll("chassis " + chassis + " registered in the Southbound database", Duration.ofSeconds(60),
                () -> !chassisUuid().isEmpty());
    }

    private void startDaemon(String name, String appctl, Map<String, String> env, Path controlSocket,
                             String program, String... args) {
        var r = HostCommand.run(COMMAND, env, exe(program), args);
        // --detach returns once the daemon is ready and its pid file written; record it even if the exit is odd.
        Optional<Long> pid = readPid(Path.of(option(args, "--pidfile=")));
        pid.ifPresent(p -> daemons.add(new Daemon(name, p, appctl,
                controlSocket != null ? controlSocket : dir.resolve(program + "." + p + ".ctl"))));
        if (!r.ok() || pid.isEmpty()) {
            throw new AssertionError("cannot start " + name + " (exit " + r.exitCode() + "): " + r.stderr().strip()
                    + logTail(Path.of(option(args, "--log-file=")).getFileName().toString()));
        }
    }

    private static String option(String[] args, String prefix) {
        return Arrays.stream(args).filter(a -> a.startsWith(prefix)).findFirst().orElseThrow().substring(prefix.length());
    }

    /** The program's path: the daemons live in /usr/sbin, which a test JVM's PATH may lack. */
    private static String exe(String program) {
        return HostCommand.find(program).map(Path::toString).orElse(program);
    }

    private static Optional<Long> readPid(Path pidFile) {
        try {
            return Optional.of(Long.parseLong(Files.readString(pidFile).strip()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    String bridge() {
        return bridge;
    }

    /** The chassis name: the host's {@code system-id}. */
    String chassis() {
        return chassis;
    }

    /** The Southbound Chassis row's uuid, or "" while ovn-controller has not registered. */
    String chassisUuid() {
        return sbctl("--bare", "--columns=_uuid", "find", "Chassis", "name=" + chassis).strip();
    }

    String nbctl(String... args) {
        return run("ovn-nbctl", prefixed(List.of("--db=" + nbDb(), "--timeout=30"), args));
    }

    String sbctl(String... args) {
        return run("ovn-sbctl", prefixed(List.of("--db=" + sbDb(), "--timeout=30"), args));
    }

    /** {@code ovn-trace --summary} of {@code microflow} entering {@code datapath}, against the Southbound flows. */
    String trace(String datapath, String microflow) {
        return run("ovn-trace", "--db=" + sbDb(), "--summary", "--no-friendly-names", datapath, microflow);
    }

    /** The OpenFlow table of the integration bridge, as {@code ovs-ofctl dump-flows} prints it. */
    String dumpFlows(String... match) {
        return run("ovs-ofctl", prefixed(List.of("dump-flows", bridge), match));
    }

    /** The last lines of a daemon's log in this fixture's directory, for assertion messages. */
    String logTail(String logFile) {
        try {
            List<String> lines = Files.readAllLines(dir.resolve(logFile), StandardCharsets.UTF_8);
            return "\n--- " + logFile + " (tail) ---\n"
                    + String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
        } catch (IOException e) {
            return "\n(no " + logFile + ": " + e.getMessage() + ")";
        }
    }

    /** Stops everything this fixture started and undoes its host configuration; problems go to {@link #leftovers()}. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Daemon d : daemons.reversed()) {
            stop(d);
        }
        if (!idsAdded.isEmpty()) {
            var args = new ArrayList<>(List.of("--timeout=10", "remove", "Open_vSwitch", ".", "external_ids"));
            args.addAll(idsAdded);
            var r = HostCommand.run(COMMAND, exe("ovs-vsctl"), args.toArray(String[]::new));
            if (!r.ok()) {
                closeProblems.add("cannot remove external_ids " + idsAdded + ": " + r.stderr().strip());
            }
        }
        if (bridgeCreated) {
            var r = HostCommand.run(COMMAND, exe("ovs-vsctl"), "--timeout=10", "--if-exists", "del-br", bridge);
            if (!r.ok()) {
                closeProblems.add("cannot delete bridge " + bridge + ": " + r.stderr().strip());
            }
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            closeProblems.add("cannot delete " + dir + ": " + e.getMessage());
        }
        if (Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException alreadyShuttingDown) {
                // the hook runs anyway and finds this fixture closed
            }
        }
    }

    /** Asks the daemon to exit, then SIGTERM, then SIGKILL, each with a bounded wait. */
    private void stop(Daemon d) {
        HostCommand.run(STOP, exe(d.appctl()), "-t", d.controlSocket().toString(), "exit");
        if (awaitGone(d.pid(), STOP)) {
            return;
        }
        ProcessHandle.of(d.pid()).ifPresent(ProcessHandle::destroy);
        if (awaitGone(d.pid(), Duration.ofSeconds(5))) {
            System.err.println("local OVN: " + d.name() + " (pid " + d.pid() + ") did not exit on request; SIGTERM did it");
            return;
        }
        ProcessHandle.of(d.pid()).ifPresent(ProcessHandle::destroyForcibly);
        awaitGone(d.pid(), Duration.ofSeconds(5));
        closeProblems.add(d.name() + " (pid " + d.pid() + ") ignored 'exit' and SIGTERM");
    }

    private static boolean awaitGone(long pid, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (alive(pid)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            sleep(50);
        }
        return true;
    }

    /** Alive and not a zombie (a daemon whose parent is gone may wait a moment to be reaped). */
    private static boolean alive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * What this fixture left on the host after {@link #close()}: daemons (and any process naming its directory),
     * external_ids keys that were not there before, the bridge, the directory. Empty when clean.
     */
    List<String> leftovers() {
        var leaks = new ArrayList<>(closeProblems);
        daemons.stream().filter(d -> alive(d.pid()))
                .forEach(d -> leaks.add(d.name() + " still running (pid " + d.pid() + ")"));
        processes().filter(p -> cmdline(p).contains(dir.toString()) && alive(Long.parseLong(p.getFileName().toString())))
                .forEach(p -> leaks.add("process " + p.getFileName() + " still names " + dir + ": " + cmdline(p)));
        Map<String, String> ids = openVswitchExternalIds();
        ids.forEach((k, v) -> {
            if (!idsBefore.containsKey(k)) {
                leaks.add("Open_vSwitch external_ids:" + k + "=" + v);
            }
        });
        if (HostCommand.run(COMMAND, exe("ovs-vsctl"), "--timeout=10", "br-exists", bridge).exitCode() != 2) {
            leaks.add("bridge " + bridge);
        }
        if (Files.exists(dir)) {
            leaks.add("directory " + dir);
        }
        return leaks;
    }

    /** The /proc directories of the host's processes. */
    private static Stream<Path> processes() {
        try (Stream<Path> all = Files.list(Path.of("/proc"))) {
            return all.filter(p -> p.getFileName().toString().matches("\\d+")).toList().stream();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list /proc", e);
        }
    }

    private static String comm(Path proc) {
        try {
            return Files.readString(proc.resolve("comm")).strip();
        } catch (IOException e) {
            return ""; // the process ended meanwhile
        }
    }

    private static String cmdline(Path proc) {
        try {
            return new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException e) {
            return ""; // the process ended meanwhile
        }
    }

    private static Map<String, String> openVswitchExternalIds() {
        String json = run("ovs-vsctl", "--timeout=10", "--format=json", "--columns=external_ids", "list", "Open_vSwitch");
        try {
            // {"data":[[["map",[["k","v"],...]]]],"headings":["external_ids"]}
            JsonNode pairs = JSON.readTree(json).path("data").path(0).path(0).path(1);
            Map<String, String> ids = new LinkedHashMap<>();
            pairs.forEach(kv -> ids.put(kv.path(0).asText(), kv.path(1).asText()));
            return ids;
        } catch (IOException e) {
            throw new AssertionError("ovs-vsctl printed no JSON: " + json, e);
        }
    }

    /** Polls {@code condition} every 200 ms until it holds or {@code limit} passes (then fails naming {@code what}). */
    static void poll(String what, Duration limit, BooleanSupplier condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + limit.toSeconds() + " s waiting for " + what);
            }
            sleep(200);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static String run(String program, String... args) {
        var r = HostCommand.run(COMMAND, exe(program), args);
        if (!r.ok()) {
            throw new AssertionError(program + " " + String.join(" ", args) + " failed (exit " + r.exitCode() + "): "
                    + r.stderr().strip());
        }
        return r.stdout();
    }

    private static String[] prefixed(List<String> first, String... rest) {
        var all = new ArrayList<>(first);
        all.addAll(List.of(rest));
        return all.toArray(String[]::new);
    }

    private String nbDb() {
        return "unix:" + path("nb.sock");
    }

    private String sbDb() {
        return "unix:" + path("sb.sock");
    }

    private String path(String file) {
        return dir.resolve(file).toString();
    }
}
