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

# syslinux_fat IMG SECTORS LABEL SERIAL KERNEL INITRD CFG: a FAT16 file system image for a partition
# starting at $PART_START (hidden sectors = that offset, so the SYSLINUX boot sector finds itself)
# holding SYSLINUX, vmlinuz, initrd.img and syslinux.cfg.
syslinux_fat() {
  local img=$1
  mkfs.vfat -F 16 -n "$3" -i "$4" --invariant -h "$PART_START" -C "$img" $(( $2 / 2 )) >/dev/null
  SOURCE_DATE_EPOCH=$DISK_EPOCH syslinux --install "$img"
  SOURCE_DATE_EPOCH=$DISK_EPOCH mcopy -i "$img" "$5" ::vmlinuz
  SOURCE_DATE_EPOCH=$DISK_EPOCH mcopy -i "$img" "$6" ::initrd.img
  SOURCE_DATE_EPOCH=$DISK_EPOCH mcopy -i "$img" "$7" ::syslinux.cfg
}

# mbr_entry ACTIVE TYPE START SECTORS: one partition table entry as printf escapes (CHS fields saturated).
mbr_entry() { printf '\\x%02x\\xfe\\xff\\xff\\x%02x\\xfe\\xff\\xff%s%s' "$1" "$2" "$(le32 "$3")" "$(le32 "$4")"; }

# write_mbr RAW SECTORS SIGNATURE ENTRIES: a sparse disk image of SECTORS with SYSLINUX's boot code,
# a fixed 4-byte disk signature, the partition entries (mbr_entry output) and the boot signature.
write_mbr() {
  truncate -s $(( $2 * 512 )) "$1"
  dd if="$SYSLINUX_MBR" of="$1" bs=440 count=1 conv=notrunc status=none
  printf '%s\0\0' "$3" | dd of="$1" bs=1 seek=440 conv=notrunc status=none
  # shellcheck disable=SC2059 # the entries are printf escapes on purpose
  printf "$4" | dd of="$1" bs=1 seek=446 conv=notrunc status=none
  printf '\x55\xaa' | dd of="$1" bs=1 seek=510 conv=notrunc status=none
}

build_disk() {
  local work=$1 part="$1/part.img" raw="$1/disk.raw" sectors part_sectors
  sectors=$(( DISK_MIB * 2048 ))
  part_sectors=$(( sectors - PART_START ))
  syslinux_fat "$part" "$part_sectors" BERTH B3A71000 "$OUT/berth-guest-kernel.vmlinuz" \
    "$OUT/berth-guest-initrd.img" "$IMAGES_SRC/guest/syslinux.cfg"
  # one active partition of type 0x0e (FAT16, LBA)
  write_mbr "$raw" "$sectors" BRTH "$(mbr_entry 0x80 0x0e "$PART_START" "$part_sectors")"
  dd if="$part" of="$raw" bs=512 seek="$PART_START" conv=notrunc,sparse status=none

  qemu-img convert -f raw -O qcow2 "$raw" "$work/berth-guest-disk.qcow2"
  publish "$work/berth-guest-disk.qcow2" berth-guest-disk.qcow2
  log "built berth-guest-disk.qcow2 (${DISK_MIB} MiB virtual, SYSLINUX $(pkg_version syslinux))"
}
