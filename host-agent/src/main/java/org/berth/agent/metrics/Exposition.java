package org.berth.agent.metrics;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.Supplier;

/**
 * The agent's /metrics: registries of collectors that read the current values at scrape time (no driver call:
 * per-instance figures come from the last sample), written by the client's Prometheus text format 0.0.4 writer.
 * What only changes with a new sample (hundreds of instances × 16 series, most of a scrape) is written once per
 * sample, by {@link #prepare()} on the sampler's thread, and its text reused until the next one; the agent-level
 * metrics are written at every scrape.
 */
public final class Exposition {
    private static final PrometheusTextFormatWriter WRITER = PrometheusTextFormatWriter.create();

    private final PrometheusRegistry live = new PrometheusRegistry();
    private final PrometheusRegistry perSample = new PrometheusRegistry();
    private Supplier<Object> sample = () -> null;
    private volatile Written written;

    /** Text written for one sample; {@code sample} is compared by equals (the supplier's key). */
    private record Written(Object sample, byte[] text) {
    }

    /** A collector read at every scrape. */
    public Exposition register(MultiCollector collector) {
        live.register(collector);
        return this;
    }

    /**
     * A collector whose figures change only when {@code current} returns an object not equal to the last one (a key
     * holding the sampler's immutable snapshot): its text is written again only then. Its metric names must not be those of another collector.
     */
    public Exposition registerPerSample(MultiCollector collector, Supplier<Object> current) {
        perSample.register(collector);
        this.sample = current;
        return this;
    }

    /** The content type the writer gives: {@code text/plain; version=0.0.4; charset=utf-8}. */
    public String contentType() {
        return WRITER.getContentType();
    }

    /** Writes the per-sample text now if the sample changed (the sampler calls it after each round). */
    public void prepare() {
        perSampleText();
    }

    private Written perSampleText() {
        Object now = sample.get();
        Written w = written;
        if (w == null || !java.util.Objects.equals(w.sample(), now)) {
            // keyed by the snapshot read before collecting: a newer one collected meanwhile is rewritten next time
            w = new Written(now, write(perSample));
            written = w;
        }
        return w;
    }

    public byte[] scrape() {
        Written w = perSampleText();
        byte[] agent = write(live);
        byte[] out = new byte[agent.length + w.text().length];
        System.arraycopy(agent, 0, out, 0, agent.length);
        System.arraycopy(w.text(), 0, out, agent.length, w.text().length);
        return out;
    }

    private static byte[] write(PrometheusRegistry registry) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(64 * 1024);
        try {
            WRITER.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return IntegralValues.trim(out.toByteArray());
    }
}
