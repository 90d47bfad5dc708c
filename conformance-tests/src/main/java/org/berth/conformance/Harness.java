package org.berth.conformance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.berth.driver.api.ComputeDriver;
import org.berth.driver.api.ComputeDriverProvider;
import org.berth.driver.api.DriverConfig;
import org.berth.driver.api.DriverContext;
import org.berth.driver.api.DriverInfo;
import org.berth.driver.api.Image;
import org.berth.driver.api.ImageFormat;
import org.berth.driver.api.VifPlugger;
import org.berth.image.ManifestImageStore;

/**
 * One driver under test with its context: a temporary state directory and image store (readable by QEMU's user),
 * the built test images, recorded events and a VIF plugger that can be told to fail. Created once per driver per
 * JVM and closed at exit, because connecting to a backend is slow and tests are many.
 */
public final class Harness implements AutoCloseable {
    /**
     * The {@link DriverContext#owner()} of the kit's drivers: a conformance run on a host where an agent runs (owner
     * {@link DriverContext#DEFAULT_OWNER}) neither shows its instances to the agent nor sees the agent's.
     */
    public static final String OWNER = "berth-conformance";

    private static final Map<String, Harness> OPEN = new ConcurrentHashMap<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> OPEN.values().forEach(Harness::close), "berth-harness-close"));
    }

    private final ComputeDriver driver;
    private final DriverInfo info;
    private final ManifestImageStore images;
    private final RecordingEventSink events = new RecordingEventSink();
    private final PoisonableVifPlugger vifs;
    private final Path root;
    private final Path stateDir;

    private Harness(ComputeDriverProvider provider, Optional<VifPlugger> vifBackend) {
        try {
            Path base = Path.of(System.getProperty("berth.conformance.dir", "/var/tmp"));
            Files.createDirectories(base);
            root = Files.createTempDirectory(base, "berth-conformance-" + provider.name() + "-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
            stateDir = Files.createDirectories(root.resolve("state"));
        } catch (IOException e) {
            throw new UncheckedIOException("conformance: cannot create a working directory", e);
        }
        Path built = Path.of(System.getProperty("berth.images.dir", "/var/cache/berth/images"));
        images = ManifestImageStore.open(List.of(built), root.resolve("images"));
        vifs = new PoisonableVifPlugger(vifBackend);
        driver = provider.create(new DriverContext(config("berth.driver.", provider.name()), images, Optional.of(vifs),
                events, stateDir, OWNER));
        info = driver.describe();
    }

    /** The harness of {@code provider}, created on first use. */
    public static Harness of(ComputeDriverProvider provider, Optional<VifPlugger> vifBackend) {
        return OPEN.computeIfAbsent(provider.name(), n -> new Harness(provider, vifBackend));
    }

    /** Options of {@code name} from system properties {@code <kind><name>.<key>=value}, e.g. {@code berth.driver.kvm.uri}. */
    static DriverConfig config(String kind, String name) {
        String prefix = kind + name + ".";
        var options = new LinkedHashMap<String, String>();
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith(prefix))
                .forEach(k -> options.put(k.substring(prefix.length()), System.getProperty(k)));
        return new DriverConfig(name, options);
    }

    public ComputeDriver driver() {
        return driver;
    }

    public DriverInfo info() {
        return info;
    }

    public ManifestImageStore images() {
        return images;
    }

    public RecordingEventSink events() {
        return events;
    }

    public PoisonableVifPlugger vifs() {
        return vifs;
    }

    public Path stateDir() {
        return stateDir;
    }

    /**
     * A new directory beside the state directory for a second driver context, searchable by every user as the
     * state directory is (a backend user such as QEMU's must reach a driver's state directory).
     */
    public Path scratchDir(String prefix) throws IOException {
        return Files.createTempDirectory(root, prefix,
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    }

    /**
     * The image to spawn from: in the driver's order of preferred formats, the smallest of the test images in the
     * store (the minimal test guest, which boots in seconds and answers on its console, not a full OS such as
     * berth-cloud-guest that shows a login prompt after a minute), ties broken by name.
     */
    public Image bootImage() {
        for (ImageFormat format : info.imageFormats()) {
            Optional<Image> hit = images.list().stream().filter(format::matches)
                    .filter(i -> i.name().startsWith("berth-"))
                    .min(Comparator.comparingLong(Image::size).thenComparing(Image::name));
            if (hit.isPresent()) {
                return hit.get();
            }
        }
        throw new IllegalStateException("no test image for driver " + info.name() + " in formats " + info.imageFormats()
                + "; run images/build.sh (images dir: " + System.getProperty("berth.images.dir") + ")");
    }

    @Override
    public void close() {
        try {
            driver.close();
        } finally {
            try (Stream<Path> walk = Files.walk(root)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) {
                // the temp dir is under /var/tmp; best effort
            }
        }
    }
}
