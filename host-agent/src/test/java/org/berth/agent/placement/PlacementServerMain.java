package org.berth.agent.placement;

/**
 * A JVM that takes the shared Placement and prints "DIR URL", then exits (argument "exit") or waits to be killed
 * ("wait"): how {@link PlacementServerTest} sees what a test JVM leaves behind.
 */
public final class PlacementServerMain {
    private PlacementServerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        PlacementServer s = PlacementServer.shared();
        System.out.println("READY " + s.dir + " " + s.url);
        System.out.flush();
        if (args.length > 0 && args[0].equals("wait")) {
            Thread.sleep(120_000);
        }
    }
}
