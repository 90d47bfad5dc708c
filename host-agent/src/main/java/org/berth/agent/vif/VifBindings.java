package org.berth.agent.vif;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The binding outcomes of each instance since its task last took them ({@link #take}). Bounded: a plug outside any
 * task (a reconcile's power-on) leaves outcomes no one takes, so at most {@value #MAX_INSTANCES} instances with
 * {@value #MAX_PER_INSTANCE} outcomes each are kept, the oldest instance dropped first. Thread-safe.
 */
public final class VifBindings {
    static final int MAX_INSTANCES = 1024;
    static final int MAX_PER_INSTANCE = 64;

    private final Map<UUID, List<VifBinding>> byInstance = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<UUID, List<VifBinding>> eldest) {
            return size() > MAX_INSTANCES;
        }
    };

    public synchronized void record(VifBinding binding) {
        List<VifBinding> list = byInstance.computeIfAbsent(binding.instance(), k -> new ArrayList<>());
        if (list.size() < MAX_PER_INSTANCE) {
            list.add(binding);
        }
    }

    /** The outcomes recorded for {@code instance}, oldest first, and forgets them. */
    public synchronized List<VifBinding> take(UUID instance) {
        List<VifBinding> list = byInstance.remove(instance);
        return list == null ? List.of() : List.copyOf(list);
    }
}
