package org.berth.driver.api;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/**
 * An IPv4 or IPv6 address with its prefix length, e.g. {@code 198.18.0.10/24}.
 * Parsing never resolves names: only literal addresses are accepted.
 */
public record IpAddress(InetAddress address, int prefixLength) {
    private static final Pattern V4 = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");
    private static final Pattern V6 = Pattern.compile("[0-9a-fA-F:.]{2,45}");

    public IpAddress {
        Check.notNull(address, "ip.address");
        int max = address.getAddress().length * 8;
        Check.between(prefixLength, 0, max, "ip.prefix_length");
    }

    /** Parses {@code a.b.c.d/len} or {@code x::y/len}; {@code field} names the input in errors. */
    public static IpAddress parseCidr(String text, String field) {
        Check.notBlank(text, field);
        int slash = text.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException(field + ": '" + Check.printable(text)
                    + "' must be an address with a prefix length, e.g. 198.18.0.10/24");
        }
        InetAddress address = parseAddress(text.substring(0, slash), field);
        int prefix;
        try {
            prefix = Integer.parseInt(text.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(field + ": prefix length of '" + Check.printable(text) + "' is not a number");
        }
        int max = address.getAddress().length * 8;
        if (prefix < 0 || prefix > max) {
            throw new IllegalArgumentException(field + ": prefix length " + prefix + " must be between 0 and " + max);
        }
        return new IpAddress(address, prefix);
    }

    /** Parses a literal IPv4 or IPv6 address without any name lookup. */
    public static InetAddress parseAddress(String text, String field) {
        Check.notBlank(text, field);
        var v4 = V4.matcher(text);
        if (v4.matches()) {
            byte[] b = new byte[4];
            for (int i = 0; i < 4; i++) {
                int octet = Integer.parseInt(v4.group(i + 1));
                if (octet > 255) {
                    throw new IllegalArgumentException(field + ": '" + text + "' has an octet over 255");
                }
                b[i] = (byte) octet;
            }
            return byBytes(b, text, field);
        }
        if (text.contains(":") && V6.matcher(text).matches()) {
            try {
                // A literal with ':' is never looked up by InetAddress.
                return InetAddress.getByName(text);
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException(field + ": '" + Check.printable(text) + "' is not an IPv6 address");
            }
        }
        throw new IllegalArgumentException(field + ": '" + Check.printable(text) + "' is not an IPv4 or IPv6 address");
    }

    private static InetAddress byBytes(byte[] b, String text, String field) {
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(field + ": '" + text + "' is not an address");
        }
    }

    /** {@code address/prefix} in the usual text form. */
    @Override
    public String toString() {
        return address.getHostAddress() + "/" + prefixLength;
    }
}
