# Shared helpers for images/build.sh (sourced, not executed).
# shellcheck shell=bash

log() { printf 'images: %s\n' "$*" >&2; }
die() { printf 'images: error: %s\n' "$*" >&2; exit 1; }

# sha256 of one file, hex only.
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Inputs of every image: the driver script, shared helpers and the manifest writer.
# shellcheck disable=SC2034 # used by the lib/*.sh key functions
COMMON_INPUTS=(build.sh lib/common.sh lib/manifest.sh)

# Deterministic hash of a set of files and directories (paths relative to $IMAGES_SRC):
# every regular file and symlink under them, with its path, mode bits and content.
hash_inputs() {
  local p f
  (
    cd "$IMAGES_SRC" || exit 1
    for p in "$@"; do
      [[ -e $p ]] || die "missing build input images/$p"
      find "$p" \( -type f -o -type l \) -print
    done | LC_ALL=C sort | while IFS= read -r f; do
      if [[ -L $f ]]; then
        printf 'l %s %s\n' "$f" "$(readlink "$f")"
      else
        # only the executable bit matters (git keeps nothing else)
        if [[ -x $f ]]; then printf 'x '; else printf 'f '; fi
        printf '%s %s\n' "$f" "$(sha256_of "$f")"
      fi
    done
  ) | sha256sum | cut -d' ' -f1
}

# Hash of a string (used to fold package versions etc. into a cache key).
hash_string() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# Installed version of a Debian package, or die with a hint.
pkg_version() {
  local v
  v=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$1" 2>/dev/null) || v=""
  [[ $v == ii* ]] || die "Debian package $1 is not installed (run scripts/host-setup.sh or apt-get install $1)"
  printf '%s' "${v##* }"
}

# UUID derived from a sha256 hex digest: the first 128 bits, stamped as an RFC 9562
# version 8 (custom) UUID with the RFC 4122 variant, formatted 8-4-4-4-12.
uuid_from_sha256() {
  local h=$1 v
  v=$(printf '%x' $(( (0x${h:16:1} & 3) | 8 )))
  printf '%s-%s-8%s-%s%s-%s' "${h:0:8}" "${h:8:4}" "${h:13:3}" "$v" "${h:17:3}" "${h:20:12}"
}

# JSON string literal (our values are plain ASCII; escape what JSON requires).
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# Cache stamps: $OUT/.stamps/<name> holds the key the current output was built from.
stamp_file() { printf '%s/.stamps/%s' "$OUT" "$1"; }
stamp_ok() {
  local name=$1 key=$2 f
  f=$(stamp_file "$name")
  [[ -f $f && $(<"$f") == "$key" ]] || return 1
  shift 2
  for f in "$@"; do [[ -s $OUT/$f ]] || return 1; done
}
stamp_write() { mkdir -p "$OUT/.stamps"; printf '%s\n' "$2" >"$(stamp_file "$1").tmp"; mv -f "$(stamp_file "$1").tmp" "$(stamp_file "$1")"; }

# Move a finished file into the output directory atomically (readers keep the old inode).
publish() { mv -f "$1" "$OUT/$2"; }

# Fix every timestamp in a tree to the epoch, for reproducible archives.
epoch_tree() { find "$1" -exec touch -h -d @0 {} +; }

# Populate a busybox rootfs: /bin/busybox, every applet as a symlink at its usual path,
# base directories and the files of an overlay directory.
make_busybox_rootfs() {
  local root=$1 overlay=$2 a
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,run,var/log}
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  chmod 0755 "$root/bin/busybox"
  while IFS= read -r a; do
    a=${a#/}
    [[ $a == bin/busybox || -e $root/$a || -L $root/$a ]] && continue
    mkdir -p "$root/$(dirname "$a")"
    ln -s /bin/busybox "$root/$a"
  done < <("$root/bin/busybox" --list-full | LC_ALL=C sort)
  if [[ -n $overlay ]]; then
    cp -R --preserve=mode "$overlay/." "$root/"
  fi
}
