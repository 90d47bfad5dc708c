package org.berth.agent;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import org.berth.agent.config.AgentConfig;
import org.berth.agent.config.ConfigException;
import org.berth.agent.config.ConfigLoader;

/** {@code java --enable-native-access=ALL-UNNAMED -jar berth-agent.jar [--config FILE]}. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        org.berth.agent.tls.ServerTls.rejectClientRenegotiation(); // before any TLS class reads it
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format",
                    "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n");
        }
        AgentConfig config;
        try {
            config = parseArgs(args);
        } catch (ConfigException e) {
            System.err.println("berth: configuration error: " + e.getMessage());
            System.exit(2);
            return;
        }
        Agent agent;
        try {
            agent = Agent.start(config);
        } catch (ConfigException e) {
            System.err.println("berth: cannot start: " + e.getMessage());
            System.exit(2);
            return;
        } catch (RuntimeException e) {
            System.err.println("berth: cannot start: " + e.getMessage());
            e.printStackTrace();
            System.exit(1);
            return;
        }
        if (config.tls().enabled()) {
            // SIGHUP re-reads the TLS files (the JVM's default would run the shutdown hooks and stop the agent)
            sun.misc.Signal.handle(new sun.misc.Signal("HUP"), s -> agent.reloadTls());
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // java.util.logging may already be shut down by its own hook: say it on stderr
            System.err.println("berth: stopping (tasks get up to shutdown_timeout "
                    + config.shutdownTimeout().toSeconds() + " s)");
            agent.close();
            System.err.println("berth: stopped");
            stopped.countDown();
        }, "berth-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static AgentConfig parseArgs(String[] args) {
        if (args.length == 0) {
            return AgentConfig.defaults();
        }
        if (args.length == 2 && args[0].equals("--config")) {
            return ConfigLoader.load(Path.of(args[1]));
        }
        if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println("usage: berth-agent [--config FILE]   (options: see host-agent/README.md)");
            System.exit(0);
        }
        throw new ConfigException("arguments", "usage: berth-agent [--config FILE]");
    }
}
