#!/usr/bin/env bash
# Entry point of `make bench`: every benchmark runs Berth's path and its baseline side by side in one run and
# prints the ratio (absolute times on shared machines are not stable). Results go to BENCHMARKS.md by hand,
# with the command that produced them.
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA_HOME=${JAVA_HOME:-$(scripts/java-home.sh)}
ran=0
for module in ovs-vif driver-docker driver-kvm host-agent; do
  main=$(grep -rl 'public static void main' "$module/src/main/java" "$module/src/test/java" 2>/dev/null | grep -i bench | head -1 || true)
  [ -n "$main" ] || continue
  class=$(echo "$main" | sed -e "s#$module/src/[a-z]*/java/##" -e 's#\.java$##' -e 's#/#.#g')
  echo "== $module: $class"
  cpfile=$(mktemp)
  mvn -B -ntp -q -pl "$module" dependency:build-classpath -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
      -cp "$module/target/classes:$module/target/test-classes:$(cat "$cpfile")" "$class"
  rm -f "$cpfile"
  ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || { echo "bench: no benchmark found (a benchmark is a *Bench* main class in a module)"; exit 1; }
