# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (kernel.*, tuning.*) as variables.
# Stage "prepare": what every node needs before Kubernetes. The bundle installed its files:
# /etc/modules-load.d/imgforge.conf, /etc/sysctl.d/90-imgforge.conf, the journald and timesyncd
# drop-ins; systemd applies them at every later boot, and this stage applies them now.
#
# systemctl enable and mask reload the whole manager unless told not to (--no-reload,
# systemctl(1)), seconds each on a small board; the symlinks they make are what the next boot
# reads and what the check looks at, and what this boot needs is started explicitly.

FSTAB=$ROOT/etc/fstab
UNITS=$ROOT/etc/systemd/system

masked() { [ "$(readlink "$UNITS/$1" 2>/dev/null)" = /dev/null ]; }

sysctl_path() { printf '%s/proc/sys/%s' "$ROOT" "$(printf '%s' "$1" | tr . /)"; }

sysctls_hold() { # every sysctl the kernel has is at its value; ones it lacks are not this stage's to fix
  s_i=0
  while [ "$s_i" -lt "${IMGFORGE_KERNEL_SYSCTLS_COUNT:-0}" ]; do
    s_key=$(nth KERNEL_SYSCTLS "$s_i" KEY)
    s_file=$(sysctl_path "$s_key")
    if [ -r "$s_file" ]; then
      # /proc/sys separates a vector's words with tabs; the config with spaces.
      s_have=$(tr -s '\t ' '  ' <"$s_file")
      [ "$s_have" = "$(nth KERNEL_SYSCTLS "$s_i" VALUE)" ] || { CHECK_MSG="sysctl $s_key is $s_have"; return 1; }
    fi
    s_i=$((s_i + 1))
  done
}

active_swap_in_fstab() { awk '$3 == "swap" && $1 !~ /^#/ { f = 1 } END { exit !f }' "$FSTAB" 2>/dev/null; }

root_noatime() { awk '$2 == "/" && $1 !~ /^#/ && $4 ~ /(^|,)noatime(,|$)/ { f = 1 } END { exit !f }' "$FSTAB" 2>/dev/null; }

stage_check() {
  for m in $IMGFORGE_KERNEL_REQUIRED_MODULES; do
    [ -d "$ROOT/sys/module/$m" ] || { CHECK_MSG="kernel module $m is not loaded"; return 1; }
  done
  sysctls_hold || return 1
  [ "$(wc -l <"$ROOT/proc/swaps")" -le 1 ] || { CHECK_MSG="swap is on"; return 1; }
  ! active_swap_in_fstab || { CHECK_MSG="/etc/fstab still turns swap on"; return 1; }
  masked swap.target || { CHECK_MSG="swap.target is not masked"; return 1; }
  for u in $IMGFORGE_TUNING_DISABLE_UNITS; do masked "$u" || { CHECK_MSG="$u is not masked"; return 1; }; done
  [ "$IMGFORGE_TUNING_NOATIME" != 1 ] || root_noatime || { CHECK_MSG="/ is not mounted noatime in /etc/fstab"; return 1; }
  [ "$IMGFORGE_TUNING_FSTRIM" != 1 ] || [ ! -e "$ROOT/lib/systemd/system/fstrim.timer" ] \
    || [ -L "$UNITS/timers.target.wants/fstrim.timer" ] || { CHECK_MSG="fstrim.timer is not enabled"; return 1; }
  [ -L "$UNITS/sysinit.target.wants/systemd-time-wait-sync.service" ] || [ ! -e "$ROOT/lib/systemd/system/systemd-time-wait-sync.service" ] \
    || { CHECK_MSG="systemd-time-wait-sync is not enabled"; return 1; }
  CHECK_MSG="modules, sysctls, swap and tuning as planned"
}

stage_apply() {
  # Modules: now, and at every boot from modules-load.d.
  for m in $IMGFORGE_KERNEL_REQUIRED_MODULES; do
    modprobe "$m" || fatal "kernel module $m is missing; Kubernetes needs it"
  done
  for m in $IMGFORGE_KERNEL_OPTIONAL_MODULES; do
    modprobe "$m" 2>/dev/null || note "warning: kernel module $m is missing"
  done
  # Each key on its own: a board sysctl this kernel lacks is a warning, not a stage that never passes.
  s_i=0
  while [ "$s_i" -lt "${IMGFORGE_KERNEL_SYSCTLS_COUNT:-0}" ]; do
    s_key=$(nth KERNEL_SYSCTLS "$s_i" KEY)
    if [ -e "$(sysctl_path "$s_key")" ]; then
      sysctl -q -w "$s_key=$(nth KERNEL_SYSCTLS "$s_i" VALUE)" >/dev/null || die "sysctl -w $s_key failed"
    else
      note "warning: this kernel has no sysctl $s_key"
    fi
    s_i=$((s_i + 1))
  done

  # kubelet refuses to start with swap on (failSwapOn): off now, out of fstab, and swap.target masked.
  swapoff -a
  if active_swap_in_fstab; then
    awk '$3 == "swap" && $1 !~ /^#/ { print "#" $0; next } { print }' "$FSTAB" | atomic_write "$FSTAB" 0644
  fi
  systemctl mask --no-reload --quiet swap.target
  for u in $IMGFORGE_TUNING_DISABLE_UNITS; do
    systemctl disable --now --no-reload --quiet "$u" 2>/dev/null || true
    systemctl mask --no-reload --quiet "$u"
  done
  if [ "$IMGFORGE_TUNING_NOATIME" = 1 ]; then
    # noatime spares flash media a write on every read.
    if ! root_noatime; then
      awk 'BEGIN { OFS = "\t" } $2 == "/" && $1 !~ /^#/ && $4 !~ /(^|,)noatime(,|$)/ { $4 = $4 ",noatime" } { print }' "$FSTAB" | atomic_write "$FSTAB" 0644
    fi
    mount -o remount,noatime / || note "warning: could not remount / with noatime"
  fi
  if [ "$IMGFORGE_TUNING_FSTRIM" = 1 ]; then
    # --no-block: a calendar timer's start waits for time-sync.target (systemd.timer(5)), which waits
    # for the first NTP sync once systemd-time-wait-sync is enabled; with no NTP server reachable a
    # blocking start would never return.
    systemctl enable --now --no-block --no-reload --quiet fstrim.timer 2>/dev/null || note "warning: no fstrim.timer on this image"
  fi
  # The journald drop-in (storage, size) takes effect on restart.
  systemctl restart systemd-journald
  # Certificates are checked against the clock and SBCs have no RTC: units ordered
  # After=time-sync.target wait for the first NTP sync only when this service is enabled
  # (systemd-time-wait-sync.service(8)).
  systemctl enable --no-reload --quiet systemd-time-wait-sync.service 2>/dev/null || note "warning: systemd-time-wait-sync.service is not available"
  # --no-block: stopping timesyncd took over ten seconds in the boot tests while cloud-init ran
  # its final stage; the drop-in's servers are in effect once it runs again.
  systemctl restart --no-block systemd-timesyncd 2>/dev/null || true
}
