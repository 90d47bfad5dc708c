#!/usr/bin/env bash
# Entry point of `make bench`: every benchmark runs Berth's path and its baseline side by side in one run and
# prints the ratio (absolute times on shared machines are not stable). Results go to BENCHMARKS.md by hand,
# with the command that produced them.
#
# A benchmark is a main class whose file name contains "Bench" in a module's src/main or src/test. The modules
# must be compiled (`make bench` builds first); sibling modules come from their target/classes, not from ~/.m2,
# so a stale installed jar never gets measured. Needs root (taps, OVS) and what scripts/host-setup.sh installs:
# wrk, and python3-os-vif for /usr/bin/python3.
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA_HOME=${JAVA_HOME:-$(scripts/java-home.sh)}
command -v wrk >/dev/null || { echo "bench: wrk is missing (scripts/host-setup.sh installs it)"; exit 1; }
/usr/bin/python3 -c 'import os_vif' 2>/dev/null \
  || { echo "bench: os-vif is missing for /usr/bin/python3 (scripts/host-setup.sh installs python3-os-vif)"; exit 1; }
modules=(driver-api image-store instance-metadata test-lab ovs-vif driver-docker driver-kvm host-agent conformance-tests)
ran=0
for module in ovs-vif driver-docker driver-kvm host-agent; do
  mapfile -t mains < <(grep -rl 'public static void main' "$module/src/main/java" "$module/src/test/java" 2>/dev/null \
    | grep -i bench | sort || true)
  ((${#mains[@]} > 0)) || continue
  cpfile=$(mktemp)
  mvn -B -ntp -q -pl "$module" dependency:build-classpath -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test
  cp=$(cat "$cpfile")
  rm -f "$cpfile"
  for m in "${modules[@]}"; do
    cp=$(sed -e "s#[^:]*/org/berth/$m/[^:]*/$m-[^:/]*\.jar#$PWD/$m/target/classes#g" <<<"$cp")
  done
  for main in "${mains[@]}"; do
    class=$(echo "$main" | sed -e "s#$module/src/[a-z]*/java/##" -e 's#\.java$##' -e 's#/#.#g')
    echo "== $module: $class"
    "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
        -cp "$module/target/classes:$module/target/test-classes:$cp" "$class"
    ran=$((ran + 1))
  done
done
[ "$ran" -gt 0 ] || { echo "bench: no benchmark found (a benchmark is a *Bench* main class in a module)"; exit 1; }
