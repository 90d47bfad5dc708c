package org.berth.ovs.ovsdb;

/** Lets tests in other packages reach the client's package-private test hooks. */
public final class OvsdbTestAccess {
    private OvsdbTestAccess() {
    }

    public static void dropConnection(OvsdbClient client) {
        client.dropConnection();
    }

    public static int pendingCalls(OvsdbClient client) {
        return client.pendingCalls();
    }
}
