# berth-cloud-guest: a real cloud image (Debian bookworm with cloud-init, configured from Nova's
# config drive only), one bootable qcow2: MBR, an active FAT16 partition with SYSLINUX, Debian's cloud
# kernel and a busybox initramfs that mounts the root and switch_roots, and an ext4 root partition
# made with mkfs.ext4 -d from a debootstrap tree (no loop device, no mount, no chroot).
#
# Why a busybox initramfs rather than Debian's initramfs-tools in the chroot: it needs no kernel
# package installed in the root (no postinst, no chroot, fewer packages: debootstrap stays at ~1 min),
# it is reproducible (fixed timestamps, sorted cpio) and the module resolver of lib/guest.sh already
# picks the modules it needs. The root gets the kernel's modules unpacked for udev.
# shellcheck shell=bash

readonly CLOUD_SUITE=${BERTH_CLOUD_SUITE:-bookworm}
readonly CLOUD_INCLUDE=systemd-sysv,udev,kmod,net-tools,iputils-ping,cloud-init,openssh-server,iproute2,ifupdown,isc-dhcp-client,python3-cffi-backend
readonly CLOUD_DISK_MIB=1024       # virtual size: a flavor with root_gb >= 1 holds it
readonly CLOUD_BOOT_MIB=32         # FAT16 boot partition (kernel ~8 MiB + initramfs ~1 MiB)
readonly CLOUD_ROOT_LABEL=berth-root
# Fixed file system ids (and mkfs time) so the same tree gives the same file system.
readonly CLOUD_ROOT_UUID=b3a7c10d-0000-4000-8000-000000000001
readonly CLOUD_FAKE_TIME=946684800  # 2000-01-01T00:00:00Z
# Units that are useless in a test VM and cost boot time under TCG or reach the network.
readonly CLOUD_MASK=(apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer
  e2scrub_reap.service fstrim.timer systemd-tmpfiles-clean.timer man-db.timer systemd-pstore.service
  getty@tty1.service cloud-init-hotplugd.socket systemd-binfmt.service proc-sys-fs-binfmt_misc.automount
  proc-sys-fs-binfmt_misc.mount cloud-config.service)

# The Debian mirror apt uses here for the suite itself (the first source whose suites name exactly $CLOUD_SUITE
# with component main: not -security, -updates or a third-party repository), or BERTH_DEBIAN_MIRROR.
debian_mirror() {
  local m=${BERTH_DEBIAN_MIRROR:-}
  if [[ -z $m ]]; then
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v suite="$CLOUD_SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      { uri = ""; ok = 0; main = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split(substr($i, 6), u, " "); for (k in u) if (u[k] != "") { uri = u[k]; break } }
          if ($i ~ /^Suites:/) { n = split(substr($i, 8), s, " "); for (k = 1; k <= n; k++) if (s[k] == suite) ok = 1 }
          if ($i ~ /^Components:/ && $i ~ /[ ]main([ ]|$)/) main = 1
        }
        if (ok && main && uri != "") { print uri; exit } }') || m=""
  fi
  if [[ -z $m ]]; then
    m=$(awk -v suite="$CLOUD_SUITE" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while (i <= NF && $i !~ /\]$/) i++;
          if ($2 ~ /^\[/) i++; if ($(i + 1) == suite) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null) || m=""
  fi
  [[ -n $m ]] || die "no Debian mirror in apt's sources (set BERTH_DEBIAN_MIRROR)"
  printf '%s' "${m%/}"
}

# What the suite's packages are: the sha256 of apt's InRelease for it (changes with each point
# release), or "unknown" when apt has no lists (then only the inputs key the image).
suite_fingerprint() {
  local f
  for f in /var/lib/apt/lists/*_dists_"${CLOUD_SUITE}"_InRelease /var/lib/apt/lists/*_dists_"${CLOUD_SUITE}"_Release; do
    [[ -s $f ]] && { sha256_of "$f"; return 0; }
  done
  printf unknown
}

cloud_key() {
  printf 'format=1 inputs=%s suite=%s release=%s include=%s %s=%s debootstrap=%s e2fsprogs=%s busybox-static=%s syslinux=%s syslinux-common=%s mtools=%s dosfstools=%s qemu-utils=%s cpio=%s' \
    "$(hash_inputs "${COMMON_INPUTS[@]}" lib/guest.sh lib/disk.sh lib/cloud.sh cloud)" \
    "$CLOUD_SUITE" "$(suite_fingerprint)" "$CLOUD_INCLUDE" "$KERNEL_PKG" "$KERNEL_VER" \
    "$(pkg_version debootstrap)" "$(pkg_version e2fsprogs)" "$(pkg_version busybox-static)" \
    "$(pkg_version syslinux)" "$(pkg_version syslinux-common)" "$(pkg_version mtools)" \
    "$(pkg_version dosfstools)" "$(pkg_version qemu-utils)" "$(pkg_version cpio)"
}

# Version of a package installed in the cloud root (for the manifest; the tree is gone by then,
# build_cloud keeps "name version" lines in $CLOUD_PKG_LIST).
cloud_pkg_version() { awk -v p="$1" '$1 == p { print $2; exit }' "$CLOUD_PKG_LIST"; }

# debootstrap into $1 (packages kept in $OUT/.cache/debootstrap for the next build).
cloud_debootstrap() {
  local root=$1 mirror cache="$OUT/.cache/debootstrap" t0=$SECONDS
  mirror=$(debian_mirror)
  mkdir -p "$cache"
  log "debootstrap $CLOUD_SUITE from $mirror (about a minute)"
  # verify the archive against Debian's keyring (debootstrap would warn and go on without one)
  [[ -s /usr/share/keyrings/debian-archive-keyring.gpg ]] \
    || die "debian-archive-keyring is missing (apt-get install debian-archive-keyring)"
  if ! debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
       --include="$CLOUD_INCLUDE" --cache-dir="$cache" \
       "$CLOUD_SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
    tail -20 "$root.log" >&2
    die "debootstrap $CLOUD_SUITE $mirror failed (log above)"
  fi
  log "debootstrap took $(( SECONDS - t0 )) s, $(du -sm "$root" | cut -f1) MiB"
  # keep only the packages this build installed in the cache (a point release replaces some)
  local deb keep
  keep=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Package}_${Version}\n' | sed 's/:/%3a/g')
  for deb in "$cache"/*.deb; do
    [[ -e $deb ]] || continue
    deb=${deb##*/}
    grep -qxF "${deb%_*.deb}" <<<"$keep" || rm -f "$cache/$deb"
  done
}

# Turn the debootstrap tree into a cloud image root: first-boot identity, config, kernel modules.
cloud_configure() {
  local root=$1 u
  # Each instance makes its own machine id and SSH host keys (cloud-init's ssh module).
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
  printf 'localhost\n' >"$root/etc/hostname"
  printf 'LABEL=%s / ext4 defaults,errors=remount-ro 0 0\n' "$CLOUD_ROOT_LABEL" >"$root/etc/fstab"
  # DHCP gives up after 15 s (a network without a DHCP server must not hold the boot for a minute)
  printf '\n# berth-cloud-guest: do not hold the boot\ntimeout 15;\n' >>"$root/etc/dhcp/dhclient.conf"
  for u in "${CLOUD_MASK[@]}"; do
    ln -sfn /dev/null "$root/etc/systemd/system/$u"
  done
  cp -R --preserve=mode "$IMAGES_SRC/cloud/rootfs/." "$root/"

  # The kernel's modules, for udev (NICs, ...) and depmod's tables for modprobe.
  mkdir -p "$root/usr/lib/modules"
  if [[ -d $KERNEL_TREE/lib/modules/$KERNEL_RELEASE ]]; then
    cp -a "$KERNEL_TREE/lib/modules/$KERNEL_RELEASE" "$root/usr/lib/modules/"
  else
    cp -a "$KERNEL_TREE/usr/lib/modules/$KERNEL_RELEASE" "$root/usr/lib/modules/"
  fi
  depmod -b "$root" "$KERNEL_RELEASE" || die "depmod for $KERNEL_RELEASE failed"

  # What a cloud image does not carry: package caches and indexes, docs, logs.
  rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
         "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
         "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/var/log/*.log "$root"/var/log/apt/* \
         "$root"/tmp/* "$root"/var/tmp/*
  mkdir -p "$root/var/lib/apt/lists/partial"
}

# The initramfs: busybox, the modules of cloud/modules.list (with their dependencies), /init.
cloud_initrd() {
  local root=$1 out=$2 m moddir
  moddir=$KERNEL_TREE/lib/modules/$KERNEL_RELEASE
  [[ -d $moddir ]] || moddir=$KERNEL_TREE/usr/lib/modules/$KERNEL_RELEASE
  make_busybox_rootfs "$root" "$IMAGES_SRC/cloud/initrd"
  mknod -m 0600 "$root/dev/console" c 5 1
  mknod -m 0666 "$root/dev/null" c 1 3
  MOD_STATE=()
  MOD_ORDER=()
  [[ ${#MOD_FILE[@]} -gt 0 ]] || mod_index "$moddir"
  while IFS= read -r m; do
    m=${m%%#*}; m=${m//[[:space:]]/}
    [[ -n $m ]] && mod_visit "${m//-/_}"
  done <"$IMAGES_SRC/cloud/modules.list"
  mkdir -p "$root/lib/modules" "$root/etc/berth"
  : >"$root/etc/berth/modules"
  for m in "${MOD_ORDER[@]}"; do
    mod_cat "${MOD_FILE[$m]}" >"$root/lib/modules/$m.ko"
    printf '%s\n' "$m" >>"$root/etc/berth/modules"
  done
  epoch_tree "$root"
  ( cd "$root" && find . -mindepth 1 | LC_ALL=C sort \
      | cpio --quiet -o -H newc -R 0:0 --reproducible ) | gzip -9 -n >"$out"
}

build_cloud() {
  local work=$1 boot="$1/boot.img" rootimg="$1/root.img" raw="$1/disk.raw"
  local sectors boot_sectors root_start root_sectors t0
  [[ -n ${KERNEL_TREE:-} ]] || unpack_kernel "$work/kernel"
  CLOUD_ROOT="$work/root"
  cloud_debootstrap "$CLOUD_ROOT"
  cloud_configure "$CLOUD_ROOT"
  CLOUD_PKG_LIST="$work/packages"
  dpkg-query --admindir="$CLOUD_ROOT/var/lib/dpkg" -W -f='${Package} ${Version}\n' >"$CLOUD_PKG_LIST"
  cloud_initrd "$work/initrd" "$work/initrd.img"

  sectors=$(( CLOUD_DISK_MIB * 2048 ))
  boot_sectors=$(( CLOUD_BOOT_MIB * 2048 ))
  root_start=$(( PART_START + boot_sectors ))
  root_sectors=$(( sectors - root_start ))

  # Boot partition: FAT16 with SYSLINUX (as lib/disk.sh), kernel, initramfs, syslinux.cfg.
  syslinux_fat "$boot" "$boot_sectors" BERTHBOOT B3A7C100 "$KERNEL_TREE/boot/vmlinuz-$KERNEL_RELEASE" \
    "$work/initrd.img" "$IMAGES_SRC/cloud/syslinux.cfg"

  log "root tree $(du -sm "$CLOUD_ROOT" | cut -f1) MiB after clean-up"
  t0=$SECONDS
  # Root partition: ext4 from the tree, fixed UUID, hash seed and time.
  E2FSPROGS_FAKE_TIME=$CLOUD_FAKE_TIME mkfs.ext4 -q -F -L "$CLOUD_ROOT_LABEL" -U "$CLOUD_ROOT_UUID" \
    -E "hash_seed=$CLOUD_ROOT_UUID,root_owner=0:0" -d "$CLOUD_ROOT" "$rootimg" $(( root_sectors / 2 ))k >/dev/null \
    || die "mkfs.ext4 -d failed (root tree too big for ${CLOUD_DISK_MIB} MiB?)"
  rm -rf --one-file-system "$CLOUD_ROOT"   # the tree is in the file system now; free the space before the copy

  # MBR: partition 1 active FAT16 (0x0e), partition 2 Linux (0x83).
  write_mbr "$raw" "$sectors" BRTC "$(mbr_entry 0x80 0x0e "$PART_START" "$boot_sectors")$(mbr_entry 0 0x83 "$root_start" "$root_sectors")"
  dd if="$boot" of="$raw" bs=512 seek="$PART_START" conv=notrunc,sparse status=none
  dd if="$rootimg" of="$raw" bs=1M seek=$(( root_start / 2048 )) conv=notrunc,sparse status=none
  rm -f "$boot" "$rootimg"

  qemu-img convert -c -f raw -O qcow2 "$raw" "$work/berth-cloud-guest.qcow2"
  rm -f "$raw"
  log "mkfs.ext4 -d, disk and qcow2 (compressed) took $(( SECONDS - t0 )) s"
  publish "$work/berth-cloud-guest.qcow2" berth-cloud-guest.qcow2
  log "built berth-cloud-guest.qcow2 (${CLOUD_DISK_MIB} MiB virtual, $(( $(stat -c %s "$OUT/berth-cloud-guest.qcow2") / 1048576 )) MiB file)"
}
