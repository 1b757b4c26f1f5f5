# imgforge bootstrap: cloud-init runs it from bootcmd on every boot as
#   sh -c <this> imgforge-bundle SHA256 BYTES SOURCE...
# SOURCE is "cidata" (imgforge-bundle.tar on the seed's CIDATA file system) or an http(s) URL.
# When the bundle the seed pins is installed and intact it does nothing; otherwise it fetches the
# bundle, refuses any copy whose SHA-256 differs, unpacks the installer and starts it alongside
# cloud-init. A bundle that cannot be verified installs nothing and runs no stage.
set -eu
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
  if [ -w "$port" ]; then printf '%s\n' "$line" >>"$port" || true; fi
  if mkdir -p "$state"; then printf '%s\n' "$line" >>"$state/events.jsonl" || true; fi
  printf 'imgforge: stage bundle %s: %s\n' "$1" "$2" >>"$root/dev/console" 2>/dev/null || true
  logger -t imgforge -- "$line" 2>/dev/null || true
}

fetch() { # SOURCE FILE
  case $1 in
    cidata)
      dev=$(blkid -L CIDATA 2>/dev/null || blkid -L cidata 2>/dev/null) || { why="no file system labelled CIDATA"; return 1; }
      mkdir -p "$run/cidata"
      mount -o ro -t vfat "$dev" "$run/cidata" || { why="mount $dev failed"; return 1; }
      cp "$run/cidata/imgforge-bundle.tar" "$2" || why="$dev holds no imgforge-bundle.tar"
      umount "$run/cidata"
      [ -z "${why:-}" ] ;;
    http://* | https://*)
      why="the download failed"
      if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 --connect-timeout 10 -o "$2" "$1"
      elif command -v wget >/dev/null 2>&1; then wget -q -T 10 -t 3 -O "$2" "$1"
      else python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$1" "$2"; fi ;;
    *) why="unknown source"; return 1 ;;
  esac
}

ok=
for src in "$@"; do
  why=
  rm -f "$run/bundle.tar"
  if ! fetch "$src" "$run/bundle.tar"; then
    say fail "no bundle from $src: $why"
    continue
  fi
  have=$(wc -c <"$run/bundle.tar")
  sum=$(sha256sum "$run/bundle.tar" | cut -d' ' -f1)
  if [ "$sum" = "$want" ]; then ok=1; break; fi
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
systemd-run --no-block --collect --quiet --unit=imgforge-install -- sh "$run/staging/usr/local/lib/imgforge/install" "$want"
