package org.berth.agent.metrics;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The agent's /metrics: a registry of collectors that read the current values at scrape time (no driver call:
 * per-instance figures come from the last sample), written by the client's Prometheus text format 0.0.4 writer.
 */
public final class Exposition {
    private static final PrometheusTextFormatWriter WRITER = PrometheusTextFormatWriter.create();

    private final PrometheusRegistry registry = new PrometheusRegistry();

    public Exposition register(MultiCollector collector) {
        registry.register(collector);
        return this;
    }

    /** The content type the writer gives: {@code text/plain; version=0.0.4; charset=utf-8}. */
    public String contentType() {
        return WRITER.getContentType();
    }

    public byte[] scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(64 * 1024);
        try {
            WRITER.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return IntegralValues.trim(out.toByteArray());
    }
}
