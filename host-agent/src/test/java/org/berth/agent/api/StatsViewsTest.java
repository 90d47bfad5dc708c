package org.berth.agent.api;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.berth.agent.store.SpecJson;
import org.berth.driver.api.InstanceSpec;
import org.junit.jupiter.api.Test;

/** Diagnostics' config_drive by the driver's kind and the spec. */
class StatsViewsTest {
    private static InstanceSpec spec(String configDrive) throws Exception {
        String json = """
                {"uuid": "6f1a7f1e-1b2c-4d3e-8f40-0a1b2c3d4e5f", "name": "a", "image_id": "%s",
                 "flavor": {"name": "m1.test", "vcpus": 1, "memory_mb": 256, "root_gb": 1}%s}
                """.formatted(org.berth.agent.TestAgent.IMAGE_ID,
                configDrive == null ? "" : ", \"config_drive\": " + configDrive);
        return SpecJson.read(Views.MAPPER.readTree(json), Set.of(), "br-int");
    }

    @Test
    void aContainerHasNoConfigDriveAVmHasOneUnlessTheSpecSaysNo() throws Exception {
        assertFalse(StatsViews.configDrive("docker", spec(null)), "a metadata directory, not a drive");
        assertFalse(StatsViews.configDrive("docker", spec("true")), "a container never has a drive");
        assertTrue(StatsViews.configDrive("kvm", spec(null)), "the kvm driver's default: on");
        assertFalse(StatsViews.configDrive("kvm", spec("false")));
        assertFalse(StatsViews.configDrive("kvm", null), "no spec: nothing known");
    }
}
