package org.berth.conformance.architecture;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** No module of Berth has cycles between its packages (this module's test class path holds every module). */
class PackageCyclesTest {
    private static final JavaClasses BERTH = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.berth");

    @Test
    void noCyclesBetweenPackages() {
        slices().matching("org.berth.(**)").should().beFreeOfCycles().check(BERTH);
    }
}
