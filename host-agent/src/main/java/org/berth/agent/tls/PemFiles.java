package org.berth.agent.tls;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.berth.agent.config.ConfigException;

/**
 * PEM certificates and private keys as {@code openssl} writes them: keys in PKCS#8 ({@code BEGIN PRIVATE KEY}, what
 * {@code genpkey}, {@code req -newkey} and OpenSSL 3's {@code genrsa} write) or the traditional forms
 * ({@code BEGIN RSA PRIVATE KEY}: PKCS#1, {@code BEGIN EC PRIVATE KEY}: SEC 1, what {@code ecparam -genkey} and
 * {@code -traditional} write), unencrypted. Every error of the file-reading methods is a {@link ConfigException}
 * naming the option; the public parsing methods ({@link #parse}, {@link #certificates(List)}, {@link #pkcs8},
 * {@link #matches}) are what the CLI's client side reads its files with, under messages of its own.
 */
public final class PemFiles {
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]*?)-----END \\1-----");
    /** DER of AlgorithmIdentifier { rsaEncryption, NULL }. */
    private static final byte[] RSA_ALGORITHM = hex("300d06092a864886f70d0101010500");
    /** DER of the OID id-ecPublicKey (1.2.840.10045.2.1). */
    private static final byte[] EC_PUBLIC_KEY_OID = hex("06072a8648ce3d0201");

    private PemFiles() {
    }

    /** One {@code -----BEGIN TYPE-----} block, decoded. */
    public record Block(String type, byte[] der) {
    }

    /**
     * The PEM blocks of {@code text}, in order.
     *
     * @throws IllegalArgumentException naming the block whose base64 is broken
     */
    public static List<Block> parse(String text) {
        List<Block> out = new ArrayList<>();
        Matcher m = BLOCK.matcher(text);
        while (m.find()) {
            try {
                out.add(new Block(m.group(1), Base64.getMimeDecoder().decode(m.group(2))));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("the " + m.group(1) + " block is not valid base64", e);
            }
        }
        return out;
    }

    static List<Block> blocks(Path file, String option) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new ConfigException(option, "cannot read " + file + ": " + e.getMessage());
        }
        try {
            return parse(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(option, file + ": " + e.getMessage());
        }
    }

    /** The CERTIFICATE blocks among {@code blocks}, in order; other blocks are skipped. */
    public static List<X509Certificate> certificates(List<Block> blocks) throws CertificateException {
        List<X509Certificate> certs = new ArrayList<>();
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        for (Block b : blocks) {
            if (b.type().equals("CERTIFICATE")) {
                certs.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(b.der())));
            }
        }
        return certs;
    }

    /** Every certificate of the file, in order (a server's own first, then its chain); at least one. */
    static List<X509Certificate> certificates(Path file, String option) {
        List<X509Certificate> certs;
        try {
            certs = certificates(blocks(file, option));
        } catch (CertificateException e) {
            throw new ConfigException(option, file + ": not a valid X.509 certificate: " + e.getMessage());
        }
        if (certs.isEmpty()) {
            throw new ConfigException(option, file + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }
        return certs;
    }

    /** The file's private key; the key itself is never part of a message. */
    static PrivateKey privateKey(Path file, String option) {
        for (Block b : blocks(file, option)) {
            try {
                switch (b.type()) {
                    case "PRIVATE KEY":
                        return pkcs8(b.der());
                    case "RSA PRIVATE KEY":
                        return KeyFactory.getInstance("RSA").generatePrivate(
                                new PKCS8EncodedKeySpec(privateKeyInfo(RSA_ALGORITHM, b.der())));
                    case "EC PRIVATE KEY":
                        byte[] algorithm = sequence(concat(EC_PUBLIC_KEY_OID, curveOf(b.der())));
                        return KeyFactory.getInstance("EC").generatePrivate(
                                new PKCS8EncodedKeySpec(privateKeyInfo(algorithm, b.der())));
                    case "ENCRYPTED PRIVATE KEY":
                        throw new ConfigException(option, file + " holds an encrypted key: the agent cannot ask "
                                + "for a pass phrase; write it unencrypted (openssl pkey -in KEY -out KEY.plain) "
                                + "and make the file 0600");
                    default:
                        // EC PARAMETERS (ecparam -genkey), a certificate in the same file: skipped
                }
            } catch (GeneralSecurityException | IllegalArgumentException e) {
                throw new ConfigException(option, file + ": the " + b.type() + " block is not a valid key ("
                        + e.getClass().getSimpleName() + ")");
            }
        }
        throw new ConfigException(option, file + " holds no unencrypted PEM private key (BEGIN PRIVATE KEY, "
                + "BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY)");
    }

    /** Proves that {@code key} belongs to {@code cert}: a signature made with it verifies with the certificate. */
    public static boolean matches(PrivateKey key, X509Certificate cert) {
        PublicKey pub = cert.getPublicKey();
        if (!pub.getAlgorithm().equals(key.getAlgorithm())) {
            return false;
        }
        String alg = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "Ed25519", "Ed448", "EdDSA" -> key.getAlgorithm();
            case "RSASSA-PSS" -> "RSASSA-PSS";
            default -> null;
        };
        if (alg == null) {
            return false;
        }
        try {
            byte[] challenge = new byte[32];
            new SecureRandom().nextBytes(challenge);
            Signature s = signature(alg);
            s.initSign(key);
            s.update(challenge);
            byte[] sig = s.sign();
            Signature v = signature(alg);
            v.initVerify(pub);
            v.update(challenge);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static Signature signature(String alg) throws GeneralSecurityException {
        Signature s = Signature.getInstance(alg);
        if (alg.equals("RSASSA-PSS")) {
            s.setParameter(new java.security.spec.PSSParameterSpec("SHA-256", "MGF1",
                    java.security.spec.MGF1ParameterSpec.SHA256, 32, 1));
        }
        return s;
    }

    /** A PKCS#8 PrivateKeyInfo of any algorithm the JDK reads (RSA, EC, EdDSA, RSASSA-PSS). */
    public static PrivateKey pkcs8(byte[] der) throws GeneralSecurityException {
        GeneralSecurityException last = null;
        for (String alg : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                last = e;
            }
        }
        throw last;
    }

    /** The curve OID of a SEC 1 ECPrivateKey: its {@code [0] parameters} field (openssl always writes it). */
    private static byte[] curveOf(byte[] sec1) {
        Der outer = new Der(sec1, 0);
        int p = outer.contentStart();
        while (p < outer.end()) {
            Der field = new Der(sec1, p);
            if ((sec1[p] & 0xff) == 0xa0) {
                Der oid = new Der(sec1, field.contentStart());
                if (sec1[field.contentStart()] != 0x06) {
                    break;
                }
                return java.util.Arrays.copyOfRange(sec1, field.contentStart(), oid.end());
            }
            p = field.end();
        }
        throw new IllegalArgumentException("the EC key names no curve (explicit parameters are not supported)");
    }

    /** PrivateKeyInfo { INTEGER 0, algorithm, OCTET STRING key }. */
    private static byte[] privateKeyInfo(byte[] algorithm, byte[] key) {
        return sequence(concat(hex("020100"), algorithm, tlv(0x04, key)));
    }

    private static byte[] sequence(byte[] content) {
        return tlv(0x30, content);
    }

    private static byte[] tlv(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(tag);
        int n = content.length;
        if (n < 0x80) {
            out.write(n);
        } else {
            int bytes = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) {
                out.write(n >>> (8 * i));
            }
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    private static byte[] hex(String s) {
        return java.util.HexFormat.of().parseHex(s);
    }

    /** One DER TLV at {@code start}: where its content starts and where it ends. */
    private record Der(int contentStart, int end) {
        Der(byte[] b, int start) {
            this(header(b, start), header(b, start) + length(b, start));
        }

        private static int header(byte[] b, int start) {
            check(b, start + 1);
            int first = b[start + 1] & 0xff;
            return start + 2 + (first < 0x80 ? 0 : first & 0x7f);
        }

        private static int length(byte[] b, int start) {
            check(b, start + 1);
            int first = b[start + 1] & 0xff;
            if (first < 0x80) {
                if (start + 2 + first > b.length) {
                    throw new IllegalArgumentException("truncated DER");
                }
                return first;
            }
            int n = first & 0x7f;
            if (n > 3) {
                throw new IllegalArgumentException("DER length too long");
            }
            int len = 0;
            for (int i = 0; i < n; i++) {
                check(b, start + 2 + i);
                len = (len << 8) | (b[start + 2 + i] & 0xff);
            }
            if (start + 2 + n + len > b.length) {
                throw new IllegalArgumentException("truncated DER");
            }
            return len;
        }

        private static void check(byte[] b, int index) {
            if (index >= b.length || index < 0) {
                throw new IllegalArgumentException("truncated DER");
            }
        }
    }
}
