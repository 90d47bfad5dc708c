package org.berth.driver.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class DriverRegistryTest {
    record Named(String name) implements ComputeDriverProvider {
        @Override
        public ComputeDriver create(DriverContext context) {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void rejectsTwoProvidersWithOneName() {
        var e = assertThrows(IllegalStateException.class,
                () -> DriverRegistry.of(List.of(new Named("kvm"), new Named("kvm"))));
        assertTrue(e.getMessage().contains("two compute driver providers are named 'kvm'"), e.getMessage());
    }

    @Test
    void namesTheDriversFoundWhenOneIsMissing() {
        var registry = DriverRegistry.of(List.of(new Named("kvm"), new Named("docker")));
        assertEquals(List.of("kvm", "docker"), registry.names());
        var e = assertThrows(IllegalArgumentException.class, () -> registry.get("lxc"));
        assertTrue(e.getMessage().contains("found: kvm, docker"), e.getMessage());
    }

    @Test
    void loadsNothingFromAnEmptyClassPath() {
        var registry = DriverRegistry.load(new ClassLoader(null) { });
        assertEquals(List.of(), registry.names());
        assertEquals(List.of(), registry.vifPluggerNames());
    }

    @Test
    void namesTheVifPluggersFoundWhenOneIsMissing() {
        var registry = DriverRegistry.of(List.of(new Named("kvm")));
        assertEquals(List.of(), registry.vifPluggerNames());
        assertTrue(registry.findVifPlugger("ovs").isEmpty());
        var e = assertThrows(IllegalArgumentException.class, () -> registry.vifPlugger("ovs"));
        assertTrue(e.getMessage().contains("vif plugger: 'ovs' is not on the class path; found: none"), e.getMessage());
    }
}
