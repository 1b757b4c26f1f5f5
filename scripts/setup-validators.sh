#!/bin/sh
# Fetch cloud-init 25.1 from Debian 13 (trixie) into .cache/cloud-init without installing it:
# its schema validator is stricter than bookworm's 22.4 (unknown keys are errors, network-config
# is checked too) and close to what Ubuntu 24.04 ships. The .deb is architecture-independent
# Python, run with the system python3 and the dependencies of bookworm's cloud-init package.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/.cache/cloud-init
[ -f "$dest/usr/lib/python3/dist-packages/cloudinit/cmd/main.py" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n' >"$work/sources.list"
set -- -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null \
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root
apt-get "$@" -qq update
(cd "$work" && apt-get "$@" -qq download cloud-init)
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
dpkg-deb -x "$work"/cloud-init_*.deb "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "cloud-init validator in $dest"
