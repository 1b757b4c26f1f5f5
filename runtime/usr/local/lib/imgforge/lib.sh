# shellcheck shell=sh
# The one library every imgforge first-boot script sources: events, retries, deadlines, atomic
# writes and the node's data. POSIX sh (dash on Debian and Ubuntu), integer arithmetic only:
# $(( )) is 64-bit there, while mawk prints numbers over 2^31 in exponent form.

# IMGFORGE_ROOT puts every file this library touches under another root (the fast tests' scratch
# root); on a node it is empty.
ROOT=${IMGFORGE_ROOT:-}
# Where this library and the stage scripts are: installed, or the staging copy the bootstrap unpacked.
IMGFORGE_LIB=${IMGFORGE_LIB:-$ROOT/usr/local/lib/imgforge}
STATE_DIR=$ROOT/var/lib/imgforge
RUN_DIR=$ROOT/run/imgforge
NODE_ENV=$STATE_DIR/node.env
# A virtio-serial port a hypervisor offers for imgforge's events (QEMU: virtserialport,name=...).
EVENT_PORT=$ROOT/dev/virtio-ports/org.imgforge.events
EVENT_SPOOL=$STATE_DIR/events.jsonl
# The stage the events are about; run-stage sets it.
STAGE=${STAGE:-}
# Exit status for a failure no retry can mend (the disk is too small, root is past its end).
FATAL=99

# emit STATE [MESSAGE]: one event as a JSON line (src/protocol/events.ts), to the event port, the
# spool, the journal and the console. EV_ATTEMPT, EV_CHANGED, EV_FACT and EV_VALUE (words, one per
# line) add optional fields when set.
emit() {
  ev_up=0
  [ -r "$ROOT/proc/uptime" ] && read -r ev_up _ <"$ROOT/proc/uptime"
  ev_boot=
  [ -r "$ROOT/proc/sys/kernel/random/boot_id" ] && read -r ev_boot <"$ROOT/proc/sys/kernel/random/boot_id"
  ev_line=$(EV_NODE=${IMGFORGE_NODE_HOSTNAME:-$(hostname 2>/dev/null || echo unknown)} EV_BOOT=$ev_boot EV_STAGE=$STAGE \
    EV_STATE=$1 EV_MSG=${2:-} EV_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ) EV_UP=$ev_up awk -f "$IMGFORGE_LIB/event.awk" </dev/null)
  if [ -w "$EVENT_PORT" ]; then port_write "$ev_line"; fi
  if [ -d "$STATE_DIR" ] || mkdir -p "$STATE_DIR" 2>/dev/null; then printf '%s\n' "$ev_line" >>"$EVENT_SPOOL" 2>/dev/null || true; fi
  printf 'MESSAGE=%s\nSYSLOG_IDENTIFIER=imgforge\nIMGFORGE_STAGE=%s\nIMGFORGE_STATE=%s\n' "$ev_line" "$STAGE" "$1" \
    | logger --journald 2>/dev/null || true
  # People read the console (a UART on a board): the same event in words.
  case $1 in
    note) ev_text="$STAGE: ${2:-}" ;;
    *) ev_text="stage $STAGE $1${2:+: $2}" ;;
  esac
  printf 'imgforge: %s\n' "$ev_text" >>"$ROOT/dev/console" 2>/dev/null || true
}

# port_write LINE: to the event port without blocking (a port no host program reads holds a
# blocking write forever, virtio_console wait_port_writable); the port opens once at a time
# (EBUSY while another stage writes), so a few tries.
port_write() {
  for pw_try in 1 2 3 4 5; do
    if printf '%s\n' "$1" | dd of="$EVENT_PORT" oflag=nonblock,append conv=notrunc status=none 2>/dev/null; then return 0; fi
    [ "$pw_try" -eq 5 ] || sleep 0.1
  done
  return 0
}

note() { emit note "$1"; }

# fatal MESSAGE: this attempt cannot succeed and no retry would help.
fatal() {
  reason "$1"
  exit "$FATAL"
}

# die MESSAGE: this attempt failed; the stage's retry policy decides what follows.
die() {
  reason "$1"
  exit 1
}

# reason MESSAGE: why the current attempt failed, for run-stage's retry and fail events.
reason() {
  printf '%s\n' "$1" >&2
  if mkdir -p "$RUN_DIR" 2>/dev/null; then printf '%s' "$1" >"$RUN_DIR/$STAGE.reason"; fi
}

uptime_s() { # whole seconds since boot
  up=0
  [ -r "$ROOT/proc/uptime" ] && read -r up _ <"$ROOT/proc/uptime"
  echo "${up%%.*}"
}

# retry ATTEMPTS DELAY MAX_DELAY COMMAND...: run COMMAND until it succeeds, at most ATTEMPTS times,
# waiting DELAY seconds after the first failure and twice as long after each later one, up to
# MAX_DELAY. Each failure but the last is a retry event; a fatal status (99) ends it at once.
retry() {
  r_attempts=$1 r_delay=$2 r_max=$3
  shift 3
  r_try=1
  while :; do
    r_status=0
    "$@" || r_status=$?
    [ "$r_status" -ne 0 ] || return 0
    if [ "$r_status" -eq "$FATAL" ] || [ "$r_try" -ge "$r_attempts" ]; then
      # How many tries it took, for the caller's fail event.
      # shellcheck disable=SC2034
      RETRY_TRIES=$r_try
      return "$r_status"
    fi
    EV_ATTEMPT=$r_try emit retry "$(last_reason "exit status $r_status"); next try in ${r_delay} s"
    sleep "$r_delay"
    r_try=$((r_try + 1))
    r_delay=$((r_delay * 2))
    [ "$r_delay" -le "$r_max" ] || r_delay=$r_max
  done
}

last_reason() { # the reason the last attempt left, else $1
  if [ -s "$RUN_DIR/$STAGE.reason" ]; then cat "$RUN_DIR/$STAGE.reason"; else printf '%s' "$1"; fi
}

# wait_for SECONDS WHAT COMMAND...: poll COMMAND (every 1 s, backing off to 10 s) until it
# succeeds; after SECONDS by the boot clock, fail naming WHAT.
wait_for() {
  w_deadline=$(( $(uptime_s) + $1 )) w_what=$2 w_pause=1
  shift 2
  until "$@"; do
    [ "$(uptime_s)" -lt "$w_deadline" ] || { reason "gave up waiting for $w_what"; return 1; }
    sleep "$w_pause"
    w_pause=$((w_pause * 2))
    [ "$w_pause" -le 10 ] || w_pause=10
  done
}

# atomic_write PATH MODE < CONTENT: PATH holds the old content or the new, never a torn mix, and
# the new content survives a power cut once this returns: a temporary name in the same folder,
# fsync, rename, fsync of the folder (rename(2) is atomic; coreutils sync(1) FILE fsyncs FILE).
atomic_write() {
  aw_tmp="$1.imgforge-new"
  # Private until chmod gives the file its mode: the content may be a secret.
  (umask 077 && cat >"$aw_tmp") || return 1
  chmod "$2" "$aw_tmp" && sync -- "$aw_tmp" && mv -f "$aw_tmp" "$1" && sync -- "${1%/*}"
}

# load_node: the node's data, node.json as shell variables (written by node-env at install).
load_node() {
  [ -r "$NODE_ENV" ] || return 1
  # shellcheck source=/dev/null
  . "$NODE_ENV"
}

# nth LIST INDEX FIELD: a field of one element of a list of objects in node.json, e.g.
# nth LAYOUT_RESERVED 0 NAME. Names come from this library's callers, never from data.
nth() {
  eval "printf '%s' \"\${IMGFORGE_${1}_${2}_${3}-}\""
}

# have TOOL:PACKAGE...: fail naming the Debian/Ubuntu package of the first missing tool.
have() {
  for h_tool in "$@"; do
    command -v "${h_tool%%:*}" >/dev/null 2>&1 || fatal "${h_tool%%:*} is missing; install the ${h_tool#*:} package in the base"
  done
}
