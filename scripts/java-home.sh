#!/usr/bin/env bash
# Prints the home of a JDK >= 21 (Berth's build needs 21+; the machine's default java may be 17).
# Order: $JAVA_HOME if it is >= 21, then the newest JDK under /usr/lib/jvm; installs Debian's JDK 21+ only
# if none is found.
set -euo pipefail

version_of() { # major version of the JDK at $1, or 0
  local rel="$1/release"
  [ -x "$1/bin/javac" ] && [ -r "$rel" ] || { echo 0; return; }
  sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel" | head -1
}

if [ -n "${JAVA_HOME:-}" ] && [ "$(version_of "$JAVA_HOME")" -ge 21 ] 2>/dev/null; then
  echo "$JAVA_HOME"; exit 0
fi
best="" best_v=0
for d in /usr/lib/jvm/*; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  v=$(version_of "$d"); v=${v:-0}
  if [ "$v" -gt "$best_v" ]; then best="$d" best_v="$v"; fi
done
if [ "$best_v" -ge 21 ]; then echo "$best"; exit 0; fi
echo "java-home: no JDK >= 21 under /usr/lib/jvm; installing Debian's openjdk-21-jdk-headless (or 25)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends openjdk-21-jdk-headless >&2 \
  || apt-get install -y -qq --no-install-recommends openjdk-25-jdk-headless >&2
for d in /usr/lib/jvm/*; do
  [ "$(version_of "$d")" -ge 21 ] 2>/dev/null && { echo "$d"; exit 0; }
done
echo "java-home: could not find or install a JDK >= 21" >&2
exit 1
