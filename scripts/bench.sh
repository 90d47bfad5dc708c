#!/usr/bin/env bash
# Entry point of `make bench`: every benchmark runs Berth's path and its baseline side by side in one run and
# prints the ratio (absolute times on shared machines are not stable). Results go to BENCHMARKS.md by hand,
# with the command that produced them.
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA_HOME=${JAVA_HOME:-$(scripts/java-home.sh)}
ran=0
for module in ovs-vif driver-docker driver-kvm host-agent; do
  main=$(grep -rl 'public static void main' "$module/src/test/java" 2>/dev/null | grep -i bench | head -1 || true)
  [ -n "$main" ] || continue
  class=$(echo "$main" | sed -e "s#$module/src/test/java/##" -e 's#\.java$##' -e 's#/#.#g')
  echo "== $module: $class"
  mvn -B -ntp -q -pl "$module" -am test-compile exec:java -Dexec.classpathScope=test -Dexec.mainClass="$class" \
      -Dexec.cleanupDaemonThreads=false -DskipTests
  ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || { echo "bench: no benchmark found (a benchmark is a *Bench* main class in a module's test sources)"; exit 1; }
