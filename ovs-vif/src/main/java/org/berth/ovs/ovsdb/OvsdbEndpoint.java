package org.berth.ovs.ovsdb;

import io.netty.channel.unix.DomainSocketAddress;

import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * Where ovsdb-server listens, in its own notation: {@code unix:/var/run/openvswitch/db.sock} or
 * {@code tcp:127.0.0.1:6640} ({@code tcp:[::1]:6640} for IPv6).
 */
public record OvsdbEndpoint(String text, SocketAddress address) {
    public static final String DEFAULT = "unix:/var/run/openvswitch/db.sock";

    public static OvsdbEndpoint parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("ovsdb endpoint is empty; expected unix:PATH or tcp:HOST:PORT");
        }
        if (text.startsWith("unix:") && text.length() > 5) {
            return new OvsdbEndpoint(text, new DomainSocketAddress(text.substring(5)));
        }
        if (text.startsWith("tcp:")) {
            String rest = text.substring(4);
            int colon = rest.lastIndexOf(':');
            if (colon > 0) {
                String host = rest.substring(0, colon);
                if (host.startsWith("[") && host.endsWith("]")) {
                    host = host.substring(1, host.length() - 1);
                }
                try {
                    int port = Integer.parseInt(rest.substring(colon + 1));
                    if (port > 0 && port < 65536) {
                        return new OvsdbEndpoint(text, InetSocketAddress.createUnresolved(host, port));
                    }
                } catch (NumberFormatException e) {
                    // falls through to the error below
                }
            }
        }
        throw new IllegalArgumentException("ovsdb endpoint '" + text + "' must be unix:PATH or tcp:HOST:PORT");
    }

    boolean isUnix() {
        return address instanceof DomainSocketAddress;
    }

    /** The address to connect to; TCP names are resolved at connect time, not at parse time. */
    SocketAddress resolved() {
        if (address instanceof InetSocketAddress inet && inet.isUnresolved()) {
            return new InetSocketAddress(inet.getHostString(), inet.getPort());
        }
        return address;
    }

    @Override
    public String toString() {
        return text;
    }
}
