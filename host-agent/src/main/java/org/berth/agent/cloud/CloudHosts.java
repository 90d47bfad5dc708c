package org.berth.agent.cloud;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The hosts file of {@code berth cloud} ({@code --hosts FILE}, default {@code $BERTH_CLOUD_HOSTS}): the lab's
 * {@code lab.json} or one written the same way. Placement's URL and token, the OVN southbound socket, the CA and
 * client certificate the agents want, and every host: its name (= its Placement provider's name = its OVN chassis
 * name unless {@code chassis} says otherwise), its agent's API and the file holding that agent's token.
 * <pre>
 * {"placement": {"url": "http://198.19.200.254:8778", "token": "admin"}, "sb": "unix:/…/sb.sock",
 *  "ca": "/…/ca.crt", "client_cert": "/…/client.crt", "client_key": "/…/client.key",
 *  "hosts": [{"name": "lab-h1", "api": "https://198.19.200.1:8774", "token_file": "/…/token", "chassis": "lab-h1"}]}
 * </pre>
 * Other fields are ignored (lab.json has more). Every problem is an {@link IllegalArgumentException} naming the
 * file, the field and the rule (bad usage: exit 2).
 */
public record CloudHosts(Path file, URI placementUrl, String placementToken, String sb, Path ca, Path clientCert,
                         Path clientKey, List<Host> hosts) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String NAME = "[A-Za-z0-9][A-Za-z0-9._-]{0,199}";

    public CloudHosts {
        hosts = List.copyOf(hosts);
    }

    /**
     * One host.
     *
     * @param name its name: its agent's {@code host}, its Placement provider's name
     * @param api its agent's REST API (https:// with the file's CA and client certificate, or http://)
     * @param tokenFile the file holding its agent's bearer token (read at each use: an agent may rotate it)
     * @param chassis its OVN chassis name
     */
    public record Host(String name, URI api, Path tokenFile, String chassis) {
        /** The token in {@link #tokenFile}, read now. */
        public String token() {
            try {
                String t = Files.readString(tokenFile).strip();
                if (t.isEmpty()) {
                    throw new IllegalArgumentException("token_file of host " + name + ": " + tokenFile + " is empty");
                }
                return t;
            } catch (IOException e) {
                throw new IllegalArgumentException("token_file of host " + name + ": " + tokenFile
                        + " cannot be read (" + e.getClass().getSimpleName() + ")");
            }
        }
    }

    /** Reads and checks the file. */
    public static CloudHosts load(Path file) {
        JsonNode j;
        try {
            j = JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("--hosts: " + file + " cannot be read as JSON ("
                    + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
        if (j == null || !j.isObject()) {
            throw new IllegalArgumentException("--hosts: " + file + " must hold a JSON object");
        }
        Fields f = new Fields(file);
        JsonNode p = j.get("placement");
        if (p == null || !p.isObject()) {
            throw f.bad("placement", "is required: an object {\"url\": \"http://HOST:PORT\", \"token\": \"admin\"}");
        }
        URI placement = f.url(p, "placement.url", true);
        String token = p.hasNonNull("token") ? f.text(p, "placement.token") : "admin";
        if (!token.matches("[!-~]{1,256}")) {
            throw f.bad("placement.token", "must be 1-256 printable characters without spaces (the value is not shown)");
        }
        String sb = j.hasNonNull("sb") ? f.text(j, "sb") : null;
        Path ca = f.optionalPath(j, "ca");
        Path cert = f.optionalPath(j, "client_cert");
        Path key = f.optionalPath(j, "client_key");
        if ((cert == null) != (key == null)) {
            throw f.bad(cert == null ? "client_cert" : "client_key", "client_cert and client_key come together");
        }
        JsonNode list = j.get("hosts");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw f.bad("hosts", "is required: a non-empty list of {name, api, token_file[, chassis]}");
        }
        List<Host> hosts = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode h = list.get(i);
            String at = "hosts[" + i + "]";
            if (!h.isObject()) {
                throw f.bad(at, "must be an object {name, api, token_file[, chassis]}");
            }
            String name = f.text(h, at + ".name");
            if (!name.matches(NAME)) {
                throw f.bad(at + ".name", "'" + name + "' must be 1-200 letters, digits and . _ - (the agent's host)");
            }
            if (!names.add(name)) {
                throw f.bad(at + ".name", "'" + name + "' is there twice: host names are unique");
            }
            URI api = f.url(h, at + ".api", true);
            if (api.getScheme().equals("https") && ca == null) {
                throw f.bad(at + ".api", api + " is https:// but the file names no 'ca' to check its certificate");
            }
            Path tokenFile = Path.of(f.text(h, at + ".token_file"));
            String chassis = h.hasNonNull("chassis") ? f.text(h, at + ".chassis") : name;
            hosts.add(new Host(name, api, tokenFile, chassis));
        }
        return new CloudHosts(file, placement, token, sb, ca, cert, key, hosts);
    }

    /** The host of that name. */
    public Optional<Host> find(String name) {
        return hosts.stream().filter(h -> h.name().equals(name)).findFirst();
    }

    /** The host of that name, or an error naming the known ones. */
    public Host host(String name) {
        return find(name).orElseThrow(() -> new IllegalArgumentException("host: '" + name + "' is not in " + file
                + " (hosts: " + hosts.stream().map(Host::name).toList() + ")"));
    }

    private record Fields(Path file) {
        IllegalArgumentException bad(String field, String rule) {
            return new IllegalArgumentException("--hosts " + file + ": " + field + " " + rule);
        }

        String text(JsonNode parent, String field) {
            JsonNode n = parent.get(field.substring(field.lastIndexOf('.') + 1));
            if (n == null || !n.isTextual() || n.asText().isBlank()) {
                throw bad(field, "is required: a non-empty string");
            }
            return n.asText().strip();
        }

        Path optionalPath(JsonNode parent, String field) {
            return parent.hasNonNull(field) ? Path.of(text(parent, field)) : null;
        }

        URI url(JsonNode parent, String field, boolean https) { // https false: http:// only
            String raw = text(parent, field);
            URI u;
            try {
                u = new URI(raw.replaceAll("/+$", ""));
            } catch (URISyntaxException e) {
                u = null;
            }
            boolean schemeOk = u != null && ("http".equals(u.getScheme()) || (https && "https".equals(u.getScheme())));
            if (!schemeOk || u.getHost() == null || u.getRawQuery() != null || u.getRawUserInfo() != null) {
                throw bad(field, "'" + raw + "' must be an " + (https ? "http:// or https://" : "http://")
                        + " URL with a host and no user or query");
            }
            return u;
        }
    }
}
