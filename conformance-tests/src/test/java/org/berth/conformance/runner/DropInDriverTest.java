package org.berth.conformance.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.berth.conformance.host.HostCommand;
import org.berth.driver.api.ComputeDriverProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The drop-in proof: a driver nobody built into Berth, compiled against driver-api alone and jarred at test time,
 * is found in {@code --driver-path} with no code change, runs the whole suite, and its bug (list() forgets
 * instances) is reported by rule, in the console, the reports and the support matrix.
 */
class DropInDriverTest {
    @TempDir
    static Path work;

    private static int status;
    private static String console;
    private static Path report;
    private static Set<String> portsBefore;
    private static Set<String> portsAfter;

    @BeforeAll
    static void runTheRunnerOnAThrowawayDriverJar() throws Exception {
        Path jar = buildDriverJar(work.resolve("drivers"));
        report = work.resolve("report");
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        portsBefore = brIntPorts();
        try (var o = new PrintStream(out, true, StandardCharsets.UTF_8); var e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            status = Main.run(List.of("--driver", "tiny", "--driver-path", jar.getParent().toString(),
                    "--report", report.toString(), "--matrix", work.resolve("docs/support-matrix.md").toString()), o, e);
        }
        console = out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
        portsAfter = brIntPorts();
    }

    /** br-int's ports, as ovs-vsctl sees them (the tiny driver plugs its VIFs there through the real ovs plugger). */
    private static Set<String> brIntPorts() {
        var r = HostCommand.run(Duration.ofSeconds(20), "ovs-vsctl", "--timeout=10", "list-ports", "br-int");
        assertTrue(r.ok(), () -> "ovs-vsctl list-ports br-int: " + r.stderr());
        return new TreeSet<>(Arrays.stream(r.stdout().split("\\s+")).filter(l -> !l.isBlank()).toList());
    }

    /** Compiles TinyDriverProvider against driver-api only and jars it with its META-INF/services entry. */
    private static Path buildDriverJar(Path dir) throws IOException, URISyntaxException {
        Path src = work.resolve("src/org/example/tiny/TinyDriverProvider.java");
        Files.createDirectories(src.getParent());
        try (InputStream in = DropInDriverTest.class.getResourceAsStream("TinyDriverProvider.java.txt")) {
            Files.write(src, in.readAllBytes());
        }
        Path classes = Files.createDirectories(work.resolve("classes"));
        String api = Path.of(ComputeDriverProvider.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        var diagnostics = new StringWriter();
        int rc = javac.run(null, null, new PrintStream(OutputStream.nullOutputStream()) {
            @Override
            public void write(byte[] b, int off, int len) {
                diagnostics.write(new String(b, off, len, StandardCharsets.UTF_8));
            }
        }, "--release", "21", "-proc:none", "-cp", api, "-d", classes.toString(), src.toString());
        assertEquals(0, rc, () -> "the throwaway driver must compile against driver-api alone: " + diagnostics);
        Path jar = Files.createDirectories(dir).resolve("tiny-driver.jar");
        var manifest = new Manifest();
        manifest.getMainAttributes().putValue("Manifest-Version", "1.0");
        try (var out = new JarOutputStream(Files.newOutputStream(jar), manifest); Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                out.write(Files.readAllBytes(f));
                out.closeEntry();
            }
            out.putNextEntry(new JarEntry("META-INF/services/" + ComputeDriverProvider.class.getName()));
            out.write("org.example.tiny.TinyDriverProvider\n".getBytes(StandardCharsets.UTF_8));
            out.closeEntry();
        }
        return jar;
    }

    @Test
    void theRunnerFindsTheDroppedInDriverAndRunsTheSuite() {
        assertTrue(console.contains("drivers tiny;"), console);
        assertTrue(console.contains("== driver tiny"), console);
        assertTrue(console.contains("PASS  [tiny] destroy removes the instance and is idempotent"), console);
        assertTrue(console.contains("SKIP  [tiny] pause freezes"), "a capability declared missing is skipped: " + console);
    }

    @Test
    void aDriverThatLeaksVifsIsReportedAndTheKitLeavesTheHostClean() {
        // The tiny driver's destroy forgets to unplug: the leak is named, and the kit unplugs what it handed out.
        assertTrue(console.contains("FAIL  [tiny] spawn plugs each VIF into OVS"), console);
        assertTrue(console.contains("leaked: OVS interface tap"), console);
        var left = new TreeSet<>(portsAfter);
        left.removeAll(portsBefore);
        assertTrue(left.isEmpty(), () -> "ports the run left on br-int: " + left);
    }

    @Test
    void itsBugFailsTheRunNamingTheRule() {
        assertEquals(Main.FAILED, status, console);
        assertTrue(console.contains("FAIL  [tiny] spawn creates a RUNNING instance that info() and list() report"), console);
        assertTrue(console.contains("rule:   list() reports every instance"), console);
    }

    @Test
    void theReportsNameTheRuleAndTheJUnitXmlIsWritten() throws IOException {
        String md = Files.readString(report.resolve("report.md"));
        assertTrue(md.contains("- rule broken: **list() reports every instance**"), md);
        assertTrue(md.contains("| tiny | "), md);
        String html = Files.readString(report.resolve("report.html"));
        assertTrue(html.contains("<b>list() reports every instance</b>") && html.endsWith("</html>\n"), html);
        String xml = Files.readString(report.resolve("TEST-junit-jupiter.xml"));
        assertTrue(xml.contains("<testsuite") && xml.contains("<failure"), xml);
    }

    @Test
    void theSupportMatrixIsComputedFromTheRunAndTheDeclaredCapabilities() throws IOException {
        String matrix = Files.readString(work.resolve("docs/support-matrix.md"));
        assertEquals(matrix, Files.readString(report.resolve("support-matrix.md")));
        assertTrue(matrix.contains("| spawn, info, list | mandatory | failed: 'list() reports every instance' |"), matrix);
        assertTrue(matrix.contains("| pause / unpause | optional (`PAUSE`) | missing (declared) |"), matrix);
        assertTrue(matrix.contains("| destroy (idempotent), unknown ids | mandatory | complete |"), matrix);
        assertTrue(matrix.contains("| tiny | 0.0.1 | tiny |  | qcow2/bare |"), matrix);
    }

    @Test
    void anUnknownVifPluggerIsAUsageErrorNamingThePluggersFound() {
        var err = new ByteArrayOutputStream();
        int rc = Main.run(List.of("--driver", "reference", "--vif", "nosuch"), new PrintStream(OutputStream.nullOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String message = err.toString(StandardCharsets.UTF_8);
        assertEquals(Main.USAGE, rc, message);
        assertTrue(message.contains("vif plugger: 'nosuch' is not on the class path; found: ovs"), message);
    }

    @Test
    void anUnknownDriverIsAUsageErrorNamingTheDriversFound() {
        var err = new ByteArrayOutputStream();
        int rc = Main.run(List.of("--driver", "nosuch"), new PrintStream(OutputStream.nullOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String message = err.toString(StandardCharsets.UTF_8);
        assertEquals(Main.USAGE, rc, message);
        assertTrue(message.contains("'nosuch' is not on the class path; found: ") && message.contains("reference"), message);
    }
}
