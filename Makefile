# Berth: the two commands a newcomer needs are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

JAVA_HOME := $(shell scripts/java-home.sh)
export JAVA_HOME
export PATH := $(JAVA_HOME)/bin:$(PATH)
# BERTH_FRESH_IMAGES=1 (on by default under CI=true, as CI runs .ci/run): the images are built from zero into
# target/images, from whatever Debian serves that day, so no cache can hide a broken build (~15-30 s).
BERTH_FRESH_IMAGES ?= $(if $(filter true,$(CI)),1,0)
ifeq ($(BERTH_FRESH_IMAGES),1)
export BERTH_IMAGES_DIR := $(CURDIR)/target/images
else
export BERTH_IMAGES_DIR ?= /var/cache/berth/images
endif
MVN := mvn -B -ntp -Dberth.images.dir=$(BERTH_IMAGES_DIR)

.PHONY: help host images setup build test run bench conformance clean host-teardown

help:
	@echo "make run    - install what is missing, build, start the host agent (API on 127.0.0.1)"
	@echo "make test   - install what is missing, build, run every test (real Docker, libvirt, OVS)"
	@echo "make bench  - benchmarks: Berth's path and the baseline side by side"
	@echo "make conformance - run the conformance suite against every driver, regenerate docs/support-matrix.md"

host:
	scripts/host-setup.sh

images: host
ifeq ($(BERTH_FRESH_IMAGES),1)
	rm -rf "$(BERTH_IMAGES_DIR)"
endif
	images/build.sh

setup: host images

build:
	$(MVN) -DskipTests install

# Every test checks its own leftovers; host-artefacts.sh then checks the whole run left the host as it found it.
test: setup
	@mkdir -p target && scripts/host-artefacts.sh snapshot target/host-before.txt
	$(MVN) install
	scripts/host-artefacts.sh compare target/host-before.txt

# Builds the runnable suite (conformance-tests/target/berth-conformance.jar), runs it against every driver in it
# (docker, kvm) and regenerates docs/support-matrix.md from the results; the report goes to target/.
CONFORMANCE_REPORT := conformance-tests/target/conformance-report
conformance: setup
	$(MVN) -pl conformance-tests -am package -DskipTests
	"$(JAVA_HOME)/bin/java" -jar conformance-tests/target/berth-conformance.jar --driver all \
		--images "$(BERTH_IMAGES_DIR)" --report $(CONFORMANCE_REPORT) --matrix docs/support-matrix.md

run: setup build
	scripts/run-agent.sh

bench: setup build
	scripts/bench.sh

host-teardown:
	scripts/host-teardown.sh

clean:
	$(MVN) -q clean
