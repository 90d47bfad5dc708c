package org.berth.driver.api;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** driver-api is the SPI every backend compiles against: it must depend on the JDK and nothing else. */
class ArchitectureTest {
    private static final JavaClasses API = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.berth.driver.api");

    @Test
    void dependsOnTheJdkOnly() {
        classes().should().onlyDependOnClassesThat()
                .resideInAnyPackage("org.berth.driver.api..", "java..", "javax.annotation..")
                .because("driver-api must not carry a backend library (libvirt, docker-java, Netty, Jackson) into drivers")
                .check(API);
    }

    @Test
    void implementationsLiveElsewhere() {
        classes().that().implement(ComputeDriver.class).should().resideOutsideOfPackage("org.berth.driver.api..")
                .allowEmptyShould(true)
                .check(API);
    }
}
