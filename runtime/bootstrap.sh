# imgforge bootstrap: cloud-init runs it from bootcmd on every boot as
#   sh -c <this> imgforge-bundle SHA256 BYTES SOURCE...
# SOURCE is "cidata" (imgforge-bundle.tar on the seed's CIDATA file system) or an http(s) URL; the
# node's secrets come from beside it (imgforge-secrets.tar), their digest pinned in the bundle.
# When the bundle the seed pins is installed and intact it does nothing; otherwise it fetches the
# bundle, refuses any copy whose SHA-256 differs, unpacks the installer and starts it alongside
# cloud-init. A bundle that cannot be verified installs nothing and runs no stage.
set -eu
# What lands in /run/imgforge (the bundle, the node's secrets) is for root alone.
umask 077
want=$1 bytes=$2
shift 2
root=${IMGFORGE_ROOT:-}
run=$root/run/imgforge
state=$root/var/lib/imgforge
if [ "$(cat "$state/bundle.sha256" 2>/dev/null)" = "$want" ] && [ -s "$state/node.env" ] \
  && (cd "$root/" && sha256sum -c --quiet --status usr/local/lib/imgforge/SHA256SUMS) 2>/dev/null; then
  exit 0
fi
mkdir -p "$run"
rm -f "$run/refused"

say() { # STATE MESSAGE: an event (src/protocol/events.ts) before the library is there to send one
  up=0 boot=
  read -r up _ <"$root/proc/uptime" || true
  read -r boot <"$root/proc/sys/kernel/random/boot_id" || true
  msg=$(printf '%s' "$2" | sed 's/[\\"]/\\&/g')
  line=$(printf '{"v":1,"node":"%s","boot":"%s","stage":"bundle","state":"%s","time":"%s","up":%s,"msg":"%s"}' \
    "$(hostname)" "$boot" "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$up" "$msg")
  port=$root/dev/virtio-ports/org.imgforge.events
  # Non-blocking: a port no host program reads would hold the write, and the boot, forever.
  if [ -w "$port" ]; then printf '%s\n' "$line" | dd of="$port" oflag=nonblock,append conv=notrunc status=none 2>/dev/null || true; fi
  if mkdir -p "$state"; then printf '%s\n' "$line" >>"$state/events.jsonl" || true; fi
  printf 'imgforge: stage bundle %s: %s\n' "$1" "$2" >>"$root/dev/console" 2>/dev/null || true
  logger -t imgforge -- "$line" 2>/dev/null || true
}

download() { # URL FILE: bounded in time (bootcmd runs before sysinit.target: a stalled server must not hold the boot)
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 --connect-timeout 10 --max-time 300 --speed-limit 1024 --speed-time 30 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -T 30 -t 3 -O "$2" "$1"
  else python3 -c 'import shutil, sys, urllib.request; shutil.copyfileobj(urllib.request.urlopen(sys.argv[1], timeout=30), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}

fetch() { # SOURCE: the bundle to $run/bundle.tar, and the node's secrets beside it when the source has them
  rm -f "$run/secrets.tar"
  case $1 in
    cidata)
      dev=$(blkid -L CIDATA 2>/dev/null || blkid -L cidata 2>/dev/null) || { why="no file system labelled CIDATA"; return 1; }
      mkdir -p "$run/cidata"
      mount -o ro -t vfat "$dev" "$run/cidata" || { why="mount $dev failed"; return 1; }
      cp "$run/cidata/imgforge-bundle.tar" "$run/bundle.tar" || why="$dev holds no imgforge-bundle.tar"
      if [ -e "$run/cidata/imgforge-secrets.tar" ]; then cp "$run/cidata/imgforge-secrets.tar" "$run/secrets.tar" || true; fi
      umount "$run/cidata"
      [ -z "${why:-}" ] ;;
    http://* | https://*)
      why="the download failed"
      download "$1" "$run/bundle.tar" || return 1
      # Secrets only over TLS: on a LAN anyone can read plain HTTP.
      case $1 in https://*) download "${1%/*}/imgforge-secrets.tar" "$run/secrets.tar" 2>/dev/null || rm -f "$run/secrets.tar" ;; esac ;;
    *) why="unknown source"; return 1 ;;
  esac
}

ok=
for src in "$@"; do
  why=
  rm -f "$run/bundle.tar"
  if ! fetch "$src"; then
    say fail "no bundle from $src: $why"
    continue
  fi
  have=$(wc -c <"$run/bundle.tar")
  sum=$(sha256sum "$run/bundle.tar" | cut -d' ' -f1)
  if [ "$sum" = "$want" ]; then ok=1; printf '%s\n' "$src" >"$run/source"; break; fi
  short=
  [ "$have" -ge "$bytes" ] || short=" (truncated)"
  say fail "refused the bundle from $src: $have bytes with SHA-256 $sum$short; the seed pins $bytes bytes with SHA-256 $want"
done
if [ -z "$ok" ]; then
  printf 'the bundle the seed pins (SHA-256 %s) could not be had' "$want" >"$run/refused"
  exit 1
fi
rm -rf "$run/staging"
mkdir -p "$run/staging"
tar -x -C "$run/staging" -f "$run/bundle.tar" usr/local/lib/imgforge etc/imgforge/node.json
: >"$run/installing"
if ! systemd-run --no-block --collect --quiet --unit=imgforge-install -- sh "$run/staging/usr/local/lib/imgforge/install" "$want"; then
  rm -f "$run/installing"
  say fail "could not start the installer (systemd-run)"
  exit 1
fi
