package org.berth.conformance.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The kit and its runner know drivers only through driver-api; the docker and kvm drivers ride along at runtime
 * (in berth-conformance.jar) and are found with ServiceLoader, like any third-party driver.
 */
class KitDependsOnApiOnlyTest {
    private static final JavaClasses KIT = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.berth.conformance");

    @Test
    void noBackendModuleIsUsed() {
        noClasses().should().dependOnClassesThat()
                .resideInAnyPackage("org.berth.driver.docker..", "org.berth.driver.kvm..", "org.berth.ovs..", "org.berth.agent..")
                .because("DESIGN.md: conformance-tests uses driver-api only at compile time")
                .check(KIT);
    }
}
