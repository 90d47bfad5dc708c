package org.berth.driver.api;

/** Lists the drivers and VIF pluggers ServiceLoader finds on the class path: {@code java -cp … org.berth.driver.api.DriverRegistryMain}. */
public final class DriverRegistryMain {
    private DriverRegistryMain() {
    }

    public static void main(String[] args) {
        DriverRegistry registry = DriverRegistry.load(DriverRegistryMain.class.getClassLoader());
        if (registry.names().isEmpty()) {
            System.out.println("no compute driver found on the class path");
            System.exit(1);
        }
        registry.providers().forEach(p -> System.out.println(DriverRegistry.describe(p)));
        registry.vifPluggers().forEach(p -> System.out.println("vif plugger " + DriverRegistry.describe(p)));
    }
}
