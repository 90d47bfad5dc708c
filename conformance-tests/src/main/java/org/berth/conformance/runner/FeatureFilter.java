package org.berth.conformance.runner;

import java.util.HashSet;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.platform.engine.FilterResult;
import org.junit.platform.engine.TestDescriptor;
import org.junit.platform.engine.TestTag;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.PostDiscoveryFilter;

/**
 * {@code --include-tag}/{@code --exclude-tag}: a test's tags are its JUnit {@code @Tag}s plus its {@link Feature}'s
 * tag, so {@code --include-tag pause} selects the pause tests without the kit having to carry the annotation.
 */
record FeatureFilter(Set<String> include, Set<String> exclude) implements PostDiscoveryFilter {
    FeatureFilter {
        include = Set.copyOf(include);
        exclude = Set.copyOf(exclude);
    }

    static Set<String> tagsOf(TestDescriptor d) {
        Set<String> tags = d.getTags().stream().map(TestTag::getName).collect(Collectors.toCollection(HashSet::new));
        if (d.getSource().orElse(null) instanceof MethodSource m) {
            tags.add(Feature.of(m.getMethodName(), tags).tag());
        }
        return tags;
    }

    @Override
    public FilterResult apply(TestDescriptor d) {
        if (!d.isTest()) {
            return FilterResult.included("container");
        }
        Set<String> tags = tagsOf(d);
        if (tags.stream().anyMatch(exclude::contains)) {
            return FilterResult.excluded("tagged " + tags + ", excluded " + exclude);
        }
        if (!include.isEmpty() && tags.stream().noneMatch(include::contains)) {
            return FilterResult.excluded("tagged " + tags + ", included only " + include);
        }
        return FilterResult.included("tagged " + tags);
    }
}
