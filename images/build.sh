#!/usr/bin/env bash
# Builds Berth's test images from Debian packages into ${BERTH_IMAGES_DIR:-/var/cache/berth/images}:
#   berth-busybox       docker-archive tarball (berth/busybox:test), built without dockerd
#   berth-guest-kernel  Debian cloud kernel (aki)       berth-guest-initrd  busybox initramfs (ari)
#   berth-guest-disk    qcow2 booting both through SYSLINUX
#   berth-cloud-guest   qcow2 cloud image: Debian with cloud-init, configured from a config drive
#                       (debootstrap: needs the Debian mirror; BERTH_CLOUD_IMAGE=0 skips it)
# plus <name>.json manifests and index.json. Each image is rebuilt only when its cache key
# (hash of its build inputs in images/ + exact Debian package versions) changes.
#
# Usage: images/build.sh [--force]      (root; no stdin needed)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

IMAGES_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${BERTH_IMAGES_DIR:-/var/cache/berth/images}
FORCE=0
for arg in "$@"; do
  case $arg in
    -f|--force) FORCE=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) printf 'images: unknown argument %s (try --help)\n' "$arg" >&2; exit 2 ;;
  esac
done

# shellcheck source=lib/common.sh
. "$IMAGES_SRC/lib/common.sh"
# shellcheck source=lib/manifest.sh
. "$IMAGES_SRC/lib/manifest.sh"
# shellcheck source=lib/container.sh
. "$IMAGES_SRC/lib/container.sh"
# shellcheck source=lib/guest.sh
. "$IMAGES_SRC/lib/guest.sh"
# shellcheck source=lib/disk.sh
. "$IMAGES_SRC/lib/disk.sh"
# shellcheck source=lib/cloud.sh
. "$IMAGES_SRC/lib/cloud.sh"
CLOUD=${BERTH_CLOUD_IMAGE:-1}

[[ $(id -u) == 0 ]] || die "run as root (the initramfs needs device nodes; the cache is in $OUT)"
for tool in apt-cache apt-get dpkg-deb dpkg-query tar cpio gzip sha256sum mkfs.vfat syslinux mcopy qemu-img flock; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/host-setup.sh)"
done
if [[ $CLOUD == 1 ]]; then
  for tool in debootstrap mkfs.ext4 depmod; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/host-setup.sh)"
  done
fi
[[ -x /bin/busybox ]] || die "/bin/busybox not found (apt-get install busybox-static)"
[[ -f $SYSLINUX_MBR ]] || die "$SYSLINUX_MBR not found (apt-get install syslinux-common)"
export LC_ALL=C TZ=UTC
umask 022

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock -w 900 9 || die "another build holds $OUT/.lock"

# remove_work DIR: unmount what a killed debootstrap may have left mounted under DIR (proc, sys,
# and /dev bound from the host when it thinks it runs in a container), then delete DIR, never
# crossing into another file system.
remove_work() {
  local m
  [[ -e $1 ]] || return 0
  while IFS= read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | LC_ALL=C sort -r)
  rm -rf --one-file-system "$1"
}
# leftovers of a build that was killed (a held lock means no other build is running)
for stale in "$OUT"/.work.*; do remove_work "$stale"; done
WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'remove_work "$WORK"' EXIT
trap 'exit 130' INT TERM   # so the EXIT trap cleans up on a signal too
BUILT=()

# ensure NAME KEY BUILD_FUNCTION OUTPUT_FILES...: build unless the stamp matches and outputs exist.
ensure() {
  local name=$1 key=$2 fn=$3 dir
  shift 3
  if [[ $FORCE == 0 ]] && stamp_ok "$name" "$key" "$@" "$name.json"; then return 0; fi
  dir="$WORK/$name"
  mkdir -p "$dir"
  "$fn" "$dir"
  "manifest_$name"
  stamp_write "$name" "$key"
  BUILT+=("$name")
}

manifest_berth-busybox() {
  local cfg
  cfg=$(tar -xOf "$OUT/berth-busybox.tar" manifest.json | sed -n 's/.*"Config":"\([0-9a-f]*\)\.json".*/\1/p')
  write_manifest berth-busybox berth-busybox.tar null docker "" \
    "\"repo_tags\": [$(json_str "$CONTAINER_TAG")], \"docker_image_id\": $(json_str "sha256:$cfg"), \"source\": $(json_str "busybox-static $(pkg_version busybox-static)")" \
    "busybox-static=$(pkg_version busybox-static)" "tar=$(pkg_version tar)"
}
manifest_berth-guest-initrd() {
  write_manifest berth-guest-initrd berth-guest-initrd.img ari bare "" \
    "\"source\": $(json_str "busybox-static $(pkg_version busybox-static); modules of $KERNEL_PKG $KERNEL_VER")" \
    "busybox-static=$(pkg_version busybox-static)" "$KERNEL_PKG=$KERNEL_VER" "cpio=$(pkg_version cpio)" \
    "gzip=$(pkg_version gzip)"
}
manifest_berth-guest-kernel() {
  write_manifest berth-guest-kernel berth-guest-kernel.vmlinuz aki bare \
    "\"ramdisk_id\": $(json_str "$(manifest_id berth-guest-initrd)")" \
    "\"os_command_line\": \"console=ttyS0\", \"kernel_release\": $(json_str "$(<"$OUT/berth-guest-kernel.release")"), \"source\": $(json_str "$KERNEL_PKG $KERNEL_VER")" \
    "$KERNEL_PKG=$KERNEL_VER"
}
manifest_berth-guest-disk() {
  write_manifest berth-guest-disk berth-guest-disk.qcow2 qcow2 bare \
    "\"virtual_size\": $(( DISK_MIB * 1024 * 1024 ))" \
    "\"os_command_line\": \"console=ttyS0\", \"hw_firmware_type\": \"bios\", \"source\": $(json_str "berth-guest-kernel + berth-guest-initrd, syslinux $(pkg_version syslinux)")" \
    "$KERNEL_PKG=$KERNEL_VER" "busybox-static=$(pkg_version busybox-static)" "syslinux=$(pkg_version syslinux)" \
    "syslinux-common=$(pkg_version syslinux-common)" "mtools=$(pkg_version mtools)" \
    "dosfstools=$(pkg_version dosfstools)" "qemu-utils=$(pkg_version qemu-utils)"
}

manifest_berth-cloud-guest() {
  local p pkgs=()
  for p in cloud-init systemd openssh-server python3 ifupdown isc-dhcp-client libc6; do
    pkgs+=("$p=$(cloud_pkg_version "$p")")
  done
  write_manifest berth-cloud-guest berth-cloud-guest.qcow2 qcow2 bare \
    "\"virtual_size\": $(( CLOUD_DISK_MIB * 1024 * 1024 )), \"min_disk\": $(( (CLOUD_DISK_MIB + 1023) / 1024 )), \"min_ram\": 256" \
    "\"hw_firmware_type\": \"bios\", \"hw_disk_bus\": \"virtio\", \"hw_cdrom_bus\": \"ide\", \"os_distro\": \"debian\", \"os_type\": \"linux\", \"kernel_release\": $(json_str "$KERNEL_RELEASE"), \"source\": $(json_str "debootstrap --variant=minbase $CLOUD_SUITE, $KERNEL_PKG $KERNEL_VER, busybox initramfs, syslinux $(pkg_version syslinux)")" \
    "${pkgs[@]}" "$KERNEL_PKG=$KERNEL_VER" "busybox-static=$(pkg_version busybox-static)" \
    "syslinux=$(pkg_version syslinux)" "debootstrap=$(pkg_version debootstrap)" "e2fsprogs=$(pkg_version e2fsprogs)" \
    "qemu-utils=$(pkg_version qemu-utils)"
}

ensure berth-busybox "$(container_key)" build_container berth-busybox.tar

resolve_kernel
ensure berth-guest-initrd "$(initrd_key)" build_initrd berth-guest-initrd.img
kernel_id_key="$(kernel_key) ramdisk=$(manifest_id berth-guest-initrd)"   # manifest carries ramdisk_id
ensure berth-guest-kernel "$kernel_id_key" build_kernel berth-guest-kernel.vmlinuz berth-guest-kernel.release
ensure berth-guest-disk "$(disk_key)" build_disk berth-guest-disk.qcow2
IMAGES=(berth-busybox berth-guest-disk berth-guest-initrd berth-guest-kernel)
if [[ $CLOUD == 1 ]]; then
  ensure berth-cloud-guest "$(cloud_key)" build_cloud berth-cloud-guest.qcow2
  IMAGES=(berth-busybox berth-cloud-guest berth-guest-disk berth-guest-initrd berth-guest-kernel)
elif [[ -f $OUT/berth-cloud-guest.json ]]; then
  IMAGES=(berth-busybox berth-cloud-guest berth-guest-disk berth-guest-initrd berth-guest-kernel)
fi

write_index "${IMAGES[@]}"
for name in "${IMAGES[@]}"; do
  print_packages "$name"
done

if [[ " ${BUILT[*]} " == *" berth-busybox "* ]] && ! (verify_container); then
  rm -f "$(stamp_file berth-busybox)"   # not up to date until it passes
  die "berth-busybox failed its docker check"
fi
if [[ ${#BUILT[@]} == 0 ]]; then
  printf 'images: up to date in %s\n' "$OUT"
else
  printf 'images: built %s in %s\n' "${BUILT[*]}" "$OUT"
fi
