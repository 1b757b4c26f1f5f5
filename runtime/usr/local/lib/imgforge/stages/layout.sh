# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (layout.*) as variables.
# Stage "layout": the image cannot know the size of the disk it is written to, so the declared
# layout is applied here. The backup GPT moves to the disk's end; the reserved partitions are
# created after root's declared end, in one table write, with imgforge's "pending" type; pending
# partitions are wiped (and ext4 ones formatted), then given their final type; root and its file
# system grow to root's declared end. Only the disk holding the running root is touched.
#
# Data safety: wiping is keyed on the partition's type GUID on the disk, never on a file of our
# own. A pending partition was created by this stage and never handed over, so nothing of value is
# on it; a partition with its final type is never wiped again, whatever /var/lib holds.

ALIGN=2048 # sectors of 512 bytes: partitions start and end on 1 MiB boundaries, as parted and sgdisk align
# The backup GPT's header and 32 sectors of entries (UEFI 2.10 §5.3.2): the last usable sector
# is the disk's size minus 34, as src/image/gpt-format.ts gptGeometry computes it.
GPT_TAIL=33
PENDING_TYPE=7d7c3e1c-5b0f-4d56-9a8e-1a3e0c6b2f41 # imgforge: created, not yet wiped (src/plan/image.ts PENDING_TYPE)
LINUX_TYPE=0fc63daf-8483-4772-8e79-3d69d8477de4   # Linux filesystem data (Discoverable Partitions Specification)

discover() { # the disk holding /, and root's place on it, from sysfs
  problem="the disk holding / was not found in sysfs"
  root_sys=$(readlink -f "$ROOT/sys/dev/block/$(mountpoint -d /)") || return 1
  [ -f "$root_sys/partition" ] || { problem="the root file system is not on a disk partition"; return 1; }
  disk_sys=${root_sys%/*}
  disk=/dev/${disk_sys##*/}
  root_dev=/dev/${root_sys##*/}
  read -r root_num <"$root_sys/partition"
  read -r root_start <"$root_sys/start"
  read -r disk_sectors <"$disk_sys/size"
}

size_of() { # KIND VALUE: the sectors a declared size takes on this disk; empty for "rest"
  case $1 in
    sectors) echo "$2" ;;
    basisPoints) echo $((disk_sectors * $2 / 10000 / ALIGN * ALIGN)) ;;
    rest) ;;
  esac
}

# plan: where root ends and each reserved partition goes (plan_root_end, plan_<i>_start/_end), the
# same arithmetic as src/plan/layout.ts placePartitions. Sets $problem when the layout cannot fit.
# Once the reserved partitions exist they are the layout, whatever the disk's size says now: a
# disk grown since (a VM's), or a card a few MB off the size a --disk-size image was built for,
# moves nothing. Needs $table.
plan() {
  count=${IMGFORGE_LAYOUT_RESERVED_COUNT:-0}
  if [ "$count" -gt 0 ]; then
    i=0 found=0
    while [ "$i" -lt "$count" ]; do
      e=$(entries_named "$(nth LAYOUT_RESERVED "$i" NAME)")
      if [ -n "$e" ]; then
        found=$((found + 1))
        eval "plan_${i}_start=$(echo "$e" | head -1 | cut -d' ' -f2) plan_${i}_end=$(echo "$e" | head -1 | cut -d' ' -f3)"
      fi
      i=$((i + 1))
    done
    if [ "$found" -eq "$count" ]; then
      plan_root_end=$((plan_0_start - 1))
      return 0
    fi
    # All are created in one table write: some without the others is not imgforge's doing.
    if [ "$found" -gt 0 ]; then problem="only $found of the $count reserved partitions exist; imgforge creates them together and will not guess where the others go"; return 1; fi
  fi
  usable_end=$(( (disk_sectors - GPT_TAIL) / ALIGN * ALIGN )) # exclusive
  fixed=0 rests=0 i=0
  root_size=$(size_of "$IMGFORGE_LAYOUT_ROOT_SIZE_KIND" "$IMGFORGE_LAYOUT_ROOT_SIZE_VALUE")
  if [ -z "$root_size" ]; then rests=1; else fixed=$root_size; fi
  while [ "$i" -lt "$count" ]; do
    s=$(size_of "$(nth LAYOUT_RESERVED "$i" SIZE_KIND)" "$(nth LAYOUT_RESERVED "$i" SIZE_VALUE)")
    if [ -z "$s" ]; then rests=$((rests + 1)); else fixed=$((fixed + s)); fi
    eval "want_$i=\$s"
    i=$((i + 1))
  done
  rest=$((usable_end - root_start - fixed))
  if [ "$rest" -lt 0 ]; then
    problem="the layout needs $((fixed / 2048)) MiB after root's start but the disk has $(( (usable_end - root_start) / 2048 )) MiB"
    return 1
  fi
  if [ "$rests" -gt 0 ] && [ "$rest" -lt "$ALIGN" ]; then problem="no space is left for the partition that takes the rest"; return 1; fi
  # Root starts wherever the image put it, so its end is aligned rather than its size.
  plan_root_end=$(( (root_start + ${root_size:-$rest}) / ALIGN * ALIGN - 1 ))
  pos=$((plan_root_end + 1)) i=0
  while [ "$i" -lt "$count" ]; do
    eval "s=\${want_$i:-$rest}"
    eval "plan_${i}_start=$pos plan_${i}_end=$((pos + s - 1))"
    pos=$((pos + s))
    i=$((i + 1))
  done
}

table() { # the partition table on the disk: "number start end type uuid name" per line
  partx -g -o NR,START,END,TYPE,UUID,NAME "$disk"
}

entries_named() { # NAME: the table's lines for partitions labelled NAME
  printf '%s\n' "$table" | while read -r e_nr e_start e_end e_type e_uuid e_name; do
    [ "$e_name" != "$1" ] || echo "$e_nr $e_start $e_end $e_type $e_uuid"
  done
}

kernel_partition() { # NUMBER: the kernel's name for the disk's partition NUMBER (vda2, nvme0n1p2)
  for kp in "$disk_sys"/*/partition; do
    [ -r "$kp" ] || continue
    read -r kp_nr <"$kp"
    if [ "$kp_nr" = "$1" ]; then kp=${kp%/partition}; echo "${kp##*/}"; return 0; fi
  done
  return 1
}

last_usable() { sgdisk -p "$disk" | sed -n 's/.*last usable sector is \([0-9]*\).*/\1/p'; }

fs_bytes() { # the root file system's size, from its superblock
  fb=$(dumpe2fs -h "$root_dev" 2>/dev/null) || return 1
  fb_count=$(printf '%s\n' "$fb" | sed -n 's/^Block count: *\([0-9]*\)$/\1/p')
  fb_size=$(printf '%s\n' "$fb" | sed -n 's/^Block size: *\([0-9]*\)$/\1/p')
  [ -n "$fb_count" ] && [ -n "$fb_size" ] || return 1
  echo $((fb_count * fb_size))
}

stage_check() {
  discover || { CHECK_MSG=$problem; return 1; }
  table=$(table) || { CHECK_MSG="partx could not read the partition table"; return 1; }
  plan || { CHECK_MSG=$problem; return 1; }
  [ "$(last_usable)" = $((disk_sectors - GPT_TAIL - 1)) ] || { CHECK_MSG="the backup GPT is not at the disk's end"; return 1; }
  i=0
  while [ "$i" -lt "$count" ]; do
    name=$(nth LAYOUT_RESERVED "$i" NAME)
    found=$(entries_named "$name")
    eval "want=\"\$plan_${i}_start \$plan_${i}_end $LINUX_TYPE\""
    [ "$(echo "$found" | cut -d' ' -f2-4)" = "$want" ] || { CHECK_MSG="partition $name is not in place"; return 1; }
    kernel_partition "${found%% *}" >/dev/null || { CHECK_MSG="the kernel does not know partition $name"; return 1; }
    i=$((i + 1))
  done
  root_end=$(printf '%s\n' "$table" | while read -r n _ e _; do [ "$n" != "$root_num" ] || echo "$e"; done)
  [ "$root_end" = "$plan_root_end" ] || { CHECK_MSG="root ends at sector $root_end, its declared end is $plan_root_end"; return 1; }
  read -r root_sectors <"$root_sys/size"
  [ $((root_start + root_sectors - 1)) = "$plan_root_end" ] || { CHECK_MSG="the kernel has not seen root grow"; return 1; }
  fs=$(fs_bytes) || { CHECK_MSG="cannot read root's file system size"; return 1; }
  [ $((root_sectors * 512 - fs)) -lt $((ALIGN * 512)) ] || { CHECK_MSG="root's file system does not fill its partition"; return 1; }
  CHECK_MSG="root ends at sector $plan_root_end; $count reserved partition(s) in place"
}

stage_apply() {
  have sgdisk:gdisk partx:util-linux wipefs:util-linux resize2fs:e2fsprogs dumpe2fs:e2fsprogs mkfs.ext4:e2fsprogs
  discover || fatal "$problem"
  table=$(table) || die "partx could not read the partition table of $disk"
  plan || fatal "$problem"
  root_end=$(printf '%s\n' "$table" | while read -r n _ e _; do [ "$n" != "$root_num" ] || echo "$e"; done)
  [ -n "$root_end" ] || fatal "the partition table of $disk has no partition $root_num, which holds /"
  [ "$root_end" -le "$plan_root_end" ] || fatal "root already ends at sector $root_end, past its declared end $plan_root_end; imgforge never shrinks root"

  # Every change to the table in one sgdisk run, one write (gdisk syncs and waits a second after
  # each): the backup GPT to the disk's end, root's new end, the missing reserved partitions.
  ops="" said=""
  last=$(last_usable)
  [ -n "$last" ] || die "sgdisk could not read the partition table of $disk"
  if [ "$last" != $((disk_sectors - GPT_TAIL - 1)) ]; then
    # A disk larger than the image still has its backup GPT where the image ended.
    ops="-e" said="moved the backup GPT to the disk's end"
  fi
  if [ "$root_end" -lt "$plan_root_end" ]; then
    # Root's entry rewritten with a new end and all else as it was, as cloud-utils growpart does
    # for GPT (resize_sgdisk); growpart itself would take the disk up to its last sector.
    info=$(sgdisk -i "$root_num" "$disk")
    r_type=$(printf '%s\n' "$info" | sed -n 's/^Partition GUID code: \([0-9A-Fa-f-]*\).*/\1/p')
    r_uuid=$(printf '%s\n' "$info" | sed -n 's/^Partition unique GUID: \([0-9A-Fa-f-]*\).*/\1/p')
    r_attr=$(printf '%s\n' "$info" | sed -n 's/^Attribute flags: \([0-9A-Fa-f]*\).*/\1/p')
    r_name=$(printf '%s\n' "$info" | sed -n "s/^Partition name: '\(.*\)'$/\1/p")
    if [ -z "$r_type" ] || [ -z "$r_uuid" ] || [ -z "$r_attr" ]; then die "sgdisk -i $root_num $disk did not describe root"; fi
    ops="$ops -d $root_num -n $root_num:$root_start:$plan_root_end -t $root_num:$r_type -u $root_num:$r_uuid -A $root_num:=:$r_attr"
    said="$said${said:+; }grew root to sector $plan_root_end"
  fi
  i=0
  while [ "$i" -lt "$count" ]; do
    name=$(nth LAYOUT_RESERVED "$i" NAME)
    found=$(entries_named "$name")
    eval "start=\$plan_${i}_start end=\$plan_${i}_end"
    if [ -z "$found" ]; then
      ops="$ops -n 0:$start:$end -c 0:$name -t 0:$PENDING_TYPE"
      said="$said${said:+; }created $name (sectors $start-$end)"
    elif [ "$(printf '%s\n' "$found" | wc -l)" -gt 1 ]; then
      fatal "$disk has more than one partition named $name"
    elif [ "$(echo "$found" | cut -d' ' -f2-3)" != "$start $end" ]; then
      fatal "partition $name is at sectors $(echo "$found" | cut -d' ' -f2-3 | tr ' ' -), the layout puts it at $start-$end; imgforge never moves a partition"
    fi
    i=$((i + 1))
  done
  if [ -n "$ops" ]; then
    # Each option is one word: names are validated labels, the rest numbers and GUIDs. Root's
    # name is set apart: it is the base's, and may be empty.
    # shellcheck disable=SC2086
    if [ -n "${r_type:-}" ]; then sgdisk $ops -c "$root_num:$r_name" "$disk" >/dev/null; else sgdisk $ops "$disk" >/dev/null; fi
    note "$said"
  fi
  # The kernel learns of the new partitions and root's new size without rereading the in-use table (partx(8)).
  partx -a "$disk" 2>/dev/null || true
  partx -u "$disk" 2>/dev/null || true
  udevadm settle 2>/dev/null || true

  # Pending partitions: wiped (a reused SSD keeps old file systems, LVM or BlueStore labels, and
  # Rook skips a partition with any signature), formatted when ext4, then all given their final
  # type in one table write.
  table=$(table) || die "partx could not read the partition table of $disk"
  final="" prepared="" i=0
  while [ "$i" -lt "$count" ]; do
    name=$(nth LAYOUT_RESERVED "$i" NAME)
    # One line of five words: split on purpose.
    # shellcheck disable=SC2046
    set -- $(entries_named "$name")
    if [ "${4:-}" = "$PENDING_TYPE" ]; then
      dev=/dev/$(kernel_partition "$1") || die "the kernel has no device for partition $name (number $1)"
      # Its first and last MiB zeroed through the disk: LVM or md may have claimed an old label
      # there (a reused disk) and hold the partition, which wipefs then cannot open.
      dd if=/dev/zero of="$disk" bs=512 seek="$2" count="$ALIGN" conv=notrunc,fsync 2>/dev/null
      dd if=/dev/zero of="$disk" bs=512 seek="$(($3 + 1 - ALIGN))" count="$ALIGN" conv=notrunc,fsync 2>/dev/null
      holders=
      for h in "$disk_sys/${dev##*/}/holders"/*; do if [ -e "$h" ]; then holders="$holders ${h##*/}"; fi; done
      [ -z "$holders" ] || die "$dev is held by$holders (an old LVM or RAID volume on a reused disk); stop it (vgchange -an, mdadm --stop) and reboot"
      wipefs -a -q "$dev"
      format=$(nth LAYOUT_RESERVED "$i" FORMAT)
      if [ "$format" = ext4 ]; then mkfs.ext4 -q -F -L "$name" "$dev"; fi
      final="$final -t $1:$LINUX_TYPE" prepared="$prepared${prepared:+, }$name ($format)"
    fi
    i=$((i + 1))
  done
  if [ -n "$final" ]; then
    # shellcheck disable=SC2086
    sgdisk $final "$disk" >/dev/null
    note "prepared $prepared"
  fi

  read -r root_sectors <"$root_sys/size"
  fs=$(fs_bytes) || die "cannot read the size of the file system on $root_dev"
  if [ $((root_sectors * 512 - fs)) -ge $((ALIGN * 512)) ]; then
    resize2fs "$root_dev" >/dev/null 2>&1 || die "resize2fs $root_dev failed"
    note "grew root's file system to $((root_sectors / 2048)) MiB"
  fi
}
