# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (layout.*) as variables.
# Stage "mounts": each ext4 reserved partition (formatted by the layout stage) gets its line in
# /etc/fstab, by partition label, and is mounted. nofail and a device timeout keep a missing
# partition from holding up the boot (systemd.mount(5)).

FSTAB=$ROOT/etc/fstab

fstab_has() { # NAME MOUNTPOINT
  awk -v n="PARTLABEL=$1" -v m="$2" '$1 == n && $2 == m { f = 1 } END { exit !f }' "$FSTAB" 2>/dev/null
}

each_ext4() { # COMMAND: COMMAND NAME MOUNTPOINT for every ext4 reserved partition; stops at the first failure
  e_i=0
  while [ "$e_i" -lt "${IMGFORGE_LAYOUT_RESERVED_COUNT:-0}" ]; do
    if [ "$(nth LAYOUT_RESERVED "$e_i" FORMAT)" = ext4 ]; then
      "$1" "$(nth LAYOUT_RESERVED "$e_i" NAME)" "$(nth LAYOUT_RESERVED "$e_i" MOUNTPOINT)" || return 1
    fi
    e_i=$((e_i + 1))
  done
}

mounted() { # NAME MOUNTPOINT
  fstab_has "$1" "$2" || { CHECK_MSG="$1 has no line in /etc/fstab"; return 1; }
  mountpoint -q "$ROOT$2" || { CHECK_MSG="nothing is mounted at $2"; return 1; }
}

mount_one() { # NAME MOUNTPOINT
  if ! fstab_has "$1" "$2"; then
    # A last line without its newline must not swallow the new one.
    { cat "$FSTAB" 2>/dev/null; [ ! -s "$FSTAB" ] || [ -z "$(tail -c 1 "$FSTAB")" ] || echo; printf 'PARTLABEL=%s\t%s\text4\tdefaults,nofail,x-systemd.device-timeout=30s\t0\t2\n' "$1" "$2"; } \
      | atomic_write "$FSTAB" 0644 || die "could not write $FSTAB"
    note "added $1 at $2 to /etc/fstab"
  fi
  mkdir -p "$ROOT$2"
  if ! mountpoint -q "$ROOT$2"; then
    mount "$ROOT$2" || die "mount $2 failed"
    note "mounted $1 at $2"
  fi
}

stage_check() {
  each_ext4 mounted
}

stage_apply() {
  each_ext4 mount_one
}
