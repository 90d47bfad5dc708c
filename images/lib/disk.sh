# berth-guest-disk: the same kernel + initramfs on a bootable qcow2 disk
# (DOS partition table with SYSLINUX's mbr.bin, one active FAT16 partition with SYSLINUX).
# Built with mtools on image files: no loop device, no mount.
# shellcheck shell=bash

readonly DISK_MIB=32          # virtual disk size
readonly PART_START=2048      # first sector of the partition (1 MiB alignment)
readonly SYSLINUX_MBR=/usr/lib/syslinux/mbr/mbr.bin
# FAT timestamps cannot go back to 1970: mtools takes this as "now" for reproducible images.
readonly DISK_EPOCH=946684800 # 2000-01-01T00:00:00Z

disk_key() {
  printf 'format=1 inputs=%s kernel=%s initrd=%s syslinux=%s syslinux-common=%s mtools=%s dosfstools=%s qemu-utils=%s' \
    "$(hash_inputs "${COMMON_INPUTS[@]}" lib/disk.sh guest/syslinux.cfg)" \
    "$(sha256_of "$OUT/berth-guest-kernel.vmlinuz")" "$(sha256_of "$OUT/berth-guest-initrd.img")" \
    "$(pkg_version syslinux)" "$(pkg_version syslinux-common)" "$(pkg_version mtools)" \
    "$(pkg_version dosfstools)" "$(pkg_version qemu-utils)"
}

# Little-endian 32-bit integer as printf escapes.
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(( $1 & 255 )) $(( ($1 >> 8) & 255 )) $(( ($1 >> 16) & 255 )) $(( ($1 >> 24) & 255 )); }

build_disk() {
  local work=$1 part="$1/part.img" raw="$1/disk.raw" sectors part_sectors entry
  sectors=$(( DISK_MIB * 2048 ))
  part_sectors=$(( sectors - PART_START ))

  # FAT16 file system, hidden sectors = partition offset so the SYSLINUX boot sector finds itself.
  mkfs.vfat -F 16 -n BERTH -i B3A71000 --invariant -h "$PART_START" -C "$part" $(( part_sectors / 2 )) >/dev/null
  SOURCE_DATE_EPOCH=$DISK_EPOCH syslinux --install "$part"
  SOURCE_DATE_EPOCH=$DISK_EPOCH mcopy -i "$part" "$OUT/berth-guest-kernel.vmlinuz" ::vmlinuz
  SOURCE_DATE_EPOCH=$DISK_EPOCH mcopy -i "$part" "$OUT/berth-guest-initrd.img" ::initrd.img
  SOURCE_DATE_EPOCH=$DISK_EPOCH mcopy -i "$part" "$IMAGES_SRC/guest/syslinux.cfg" ::syslinux.cfg

  # MBR: SYSLINUX boot code, fixed disk signature, one active partition of type 0x0e
  # (FAT16, LBA; CHS fields saturated), boot signature.
  truncate -s $(( sectors * 512 )) "$raw"
  dd if="$SYSLINUX_MBR" of="$raw" bs=440 count=1 conv=notrunc status=none
  printf 'BRTH\0\0' | dd of="$raw" bs=1 seek=440 conv=notrunc status=none
  entry="\\x80\\xfe\\xff\\xff\\x0e\\xfe\\xff\\xff$(le32 "$PART_START")$(le32 "$part_sectors")"
  # shellcheck disable=SC2059 # entry holds printf escapes on purpose
  printf "$entry" | dd of="$raw" bs=1 seek=446 conv=notrunc status=none
  printf '\x55\xaa' | dd of="$raw" bs=1 seek=510 conv=notrunc status=none
  dd if="$part" of="$raw" bs=512 seek="$PART_START" conv=notrunc,sparse status=none

  qemu-img convert -f raw -O qcow2 "$raw" "$work/berth-guest-disk.qcow2"
  publish "$work/berth-guest-disk.qcow2" berth-guest-disk.qcow2
  log "built berth-guest-disk.qcow2 (${DISK_MIB} MiB virtual, SYSLINUX $(pkg_version syslinux))"
}
