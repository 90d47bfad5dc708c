# berth-guest-kernel + berth-guest-initrd: Debian's cloud kernel and a busybox initramfs.
# shellcheck shell=bash

readonly KERNEL_META=${BERTH_KERNEL_META:-linux-image-cloud-amd64}

# Cheap fingerprint of what apt resolves against (index files, sources, pins): apt-cache takes
# over a second here (its package cache is disabled), so its answer is reused while this holds.
apt_fingerprint() {
  local f
  {
    printf '%s\n' "$KERNEL_META"
    for f in /var/lib/apt/lists/*_Packages* /etc/apt/sources.list /etc/apt/sources.list.d/* \
             /etc/apt/preferences /etc/apt/preferences.d/*; do
      [[ -e $f ]] && stat -c '%n %s %Y' "$f"
    done
  } | sha256sum | cut -d' ' -f1
}

# Sets KERNEL_PKG and KERNEL_VER: the real linux-image-*-cloud-amd64 package the metapackage's
# candidate depends on, at the exact version it pins. Without apt lists, falls back to the
# package recorded by the last successful resolution (so an offline up-to-date check still works).
resolve_kernel() {
  local rec="$OUT/.cache/kernel-package" fp dep="" line
  fp=$(apt_fingerprint)
  if [[ -f $rec ]]; then
    line=$(<"$rec")
    if [[ ${line%% *} == "$fp" ]]; then dep=${line#* }; fi
  fi
  if [[ -z $dep ]]; then
    dep=$(apt-cache show --no-all-versions "$KERNEL_META" 2>/dev/null \
          | sed -n 's/^Depends: .*\(linux-image-[^ ,]*\) (= \([^)]*\)).*/\1 \2/p') || dep=""
    dep=${dep%%$'\n'*}
    if [[ -n $dep ]]; then
      mkdir -p "$OUT/.cache"
      printf '%s %s\n' "$fp" "$dep" >"$rec.tmp"
      mv -f "$rec.tmp" "$rec"
    elif [[ -f $rec ]]; then
      dep=$(<"$rec")
      dep=${dep#* }
      log "warning: apt cannot resolve $KERNEL_META (run apt-get update); using ${dep% *} ${dep#* } from the last build"
    else
      die "cannot resolve $KERNEL_META with apt-cache (run apt-get update)"
    fi
  fi
  KERNEL_PKG=${dep% *}
  KERNEL_VER=${dep#* }
}

kernel_key() { printf 'format=1 inputs=%s %s=%s' "$(hash_inputs "${COMMON_INPUTS[@]}" lib/guest.sh)" "$KERNEL_PKG" "$KERNEL_VER"; }

initrd_key() {
  printf 'format=1 inputs=%s busybox-static=%s %s=%s cpio=%s gzip=%s' \
    "$(hash_inputs "${COMMON_INPUTS[@]}" lib/guest.sh guest/rootfs guest/modules.list)" \
    "$(pkg_version busybox-static)" "$KERNEL_PKG" "$KERNEL_VER" \
    "$(pkg_version cpio)" "$(pkg_version gzip)"
}

# Downloads (once, into $OUT/.cache/debs) and unpacks the kernel package into $1.
# Sets KERNEL_RELEASE (uname -r) and KERNEL_TREE.
unpack_kernel() {
  local dest=$1 cache="$OUT/.cache/debs" deb
  mkdir -p "$cache"
  deb="$cache/${KERNEL_PKG}_${KERNEL_VER//:/%3a}_amd64.deb"
  if [[ ! -s $deb ]]; then
    log "downloading $KERNEL_PKG $KERNEL_VER"
    ( cd "$cache" && apt-get -q -o APT::Sandbox::User=root download "$KERNEL_PKG=$KERNEL_VER" >/dev/null ) \
      || die "apt-get download $KERNEL_PKG=$KERNEL_VER failed"
    [[ -s $deb ]] || die "apt-get download did not produce $deb"
    # drop older kernels of the same flavour from the cache
    find "$cache" -maxdepth 1 -name 'linux-image-*.deb' ! -path "$deb" -delete
  fi
  [[ $(dpkg-deb -f "$deb" Package) == "$KERNEL_PKG" && $(dpkg-deb -f "$deb" Version) == "$KERNEL_VER" ]] \
    || die "$deb is not $KERNEL_PKG $KERNEL_VER"
  dpkg-deb -x "$deb" "$dest"
  local v
  v=$(find "$dest/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n')
  v=${v%%$'\n'*}
  [[ -n $v ]] || die "no /boot/vmlinuz-* in $deb"
  KERNEL_RELEASE=${v#vmlinuz-}
  KERNEL_TREE=$dest
}

build_kernel() {
  local work=$1
  [[ -n ${KERNEL_TREE:-} ]] || unpack_kernel "$work/kernel"
  cp "$KERNEL_TREE/boot/vmlinuz-$KERNEL_RELEASE" "$work/berth-guest-kernel.vmlinuz"
  printf '%s\n' "$KERNEL_RELEASE" >"$work/berth-guest-kernel.release"
  publish "$work/berth-guest-kernel.vmlinuz" berth-guest-kernel.vmlinuz
  publish "$work/berth-guest-kernel.release" berth-guest-kernel.release
  log "built berth-guest-kernel.vmlinuz ($KERNEL_PKG $KERNEL_VER, $KERNEL_RELEASE)"
}

# Module resolution over the unpacked package: name -> file, name -> depends (from .modinfo).
declare -A MOD_FILE=() MOD_BUILTIN=() MOD_STATE=()
MOD_ORDER=()

mod_name() { local n=${1##*/}; n=${n%%.ko*}; printf '%s' "${n//-/_}"; }

mod_index() {
  local moddir=$1 f
  while IFS= read -r f; do MOD_FILE[$(mod_name "$f")]=$f; done \
    < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
  if [[ -f $moddir/modules.builtin ]]; then
    while IFS= read -r f; do MOD_BUILTIN[$(mod_name "$f")]=1; done <"$moddir/modules.builtin"
  fi
}

# Uncompressed module bytes on stdout.
mod_cat() {
  case $1 in
    *.ko.xz) xz -dc "$1" ;;
    *.ko.zst) zstd -qdc "$1" ;;
    *.ko.gz) gzip -dc "$1" ;;
    *) cat "$1" ;;
  esac
}

mod_visit() {
  local m=$1 deps d
  [[ ${MOD_STATE[$m]:-} == visited ]] && return 0
  [[ ${MOD_STATE[$m]:-} == visiting ]] && die "module dependency cycle at $m"
  if [[ -z ${MOD_FILE[$m]:-} ]]; then
    [[ -n ${MOD_BUILTIN[$m]:-} ]] && { MOD_STATE[$m]=visited; return 0; }
    die "kernel module $m is neither a module nor built into $KERNEL_PKG"
  fi
  MOD_STATE[$m]=visiting
  deps=$(mod_cat "${MOD_FILE[$m]}" | tr '\0' '\n' | sed -n 's/^depends=//p')
  for d in ${deps//,/ }; do mod_visit "${d//-/_}"; done
  MOD_STATE[$m]=visited
  MOD_ORDER+=("$m")
}

build_initrd() {
  local work=$1 root="$1/initrd" m moddir
  [[ -n ${KERNEL_TREE:-} ]] || unpack_kernel "$work/kernel"
  moddir=$KERNEL_TREE/lib/modules/$KERNEL_RELEASE
  [[ -d $moddir ]] || moddir=$KERNEL_TREE/usr/lib/modules/$KERNEL_RELEASE
  [[ -d $moddir ]] || die "no modules directory for $KERNEL_RELEASE in $KERNEL_PKG"

  make_busybox_rootfs "$root" "$IMAGES_SRC/guest/rootfs"
  ln -s bin/busybox "$root/init"
  mknod -m 0600 "$root/dev/console" c 5 1
  mknod -m 0666 "$root/dev/null" c 1 3

  mod_index "$moddir"
  while IFS= read -r m; do
    m=${m%%#*}; m=${m//[[:space:]]/}
    [[ -n $m ]] && mod_visit "${m//-/_}"
  done <"$IMAGES_SRC/guest/modules.list"
  mkdir -p "$root/lib/modules"
  : >"$root/etc/berth/modules"
  for m in "${MOD_ORDER[@]}"; do
    mod_cat "${MOD_FILE[$m]}" >"$root/lib/modules/$m.ko"
    printf '%s\n' "$m" >>"$root/etc/berth/modules"
  done
  printf '%s\n' "$KERNEL_RELEASE" >"$root/etc/berth/kernel-release"

  epoch_tree "$root"
  ( cd "$root" && find . -mindepth 1 | LC_ALL=C sort \
      | cpio --quiet -o -H newc -R 0:0 --reproducible ) | gzip -9 -n >"$work/berth-guest-initrd.img"
  publish "$work/berth-guest-initrd.img" berth-guest-initrd.img
  log "built berth-guest-initrd.img (busybox $(pkg_version busybox-static), modules: ${MOD_ORDER[*]})"
}
