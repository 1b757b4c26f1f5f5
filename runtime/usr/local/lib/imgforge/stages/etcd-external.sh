# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (assembly.etcd.*) as variables.
# Stage "etcd-external", on a node of role etcd: a member of the external etcd cluster the API
# servers use (seed 004; kubeadm-ha.md §3.4), run by systemd with imgforge's unit and the
# certificates imgforge issued. etcd comes from etcd-io's release archive, accepted only with its
# pinned SHA-256 (or from the base archive's etcd-server, when the config says so). A new cluster
# has no quorum until a majority of its members run: the stage waits for the others, with a deadline.
# shellcheck source-path=SCRIPTDIR/.. source=lib-kube.sh
. "$IMGFORGE_LIB/lib-kube.sh"

NAME=$IMGFORGE_NODE_HOSTNAME
IP=${IMGFORGE_NODE_ADDRESS%/*}
VERSION=${IMGFORGE_ASSEMBLY_ETCD_VERSION:-}
URL=${IMGFORGE_ASSEMBLY_ETCD_URL:-}
BIN=$ROOT/usr/local/bin

local_etcd() { etcd_at "https://$IP:2379" "$ETCD_PKI/healthcheck-client.crt" "$ETCD_PKI/healthcheck-client.key" "$@"; }

installed() {
  if [ -n "$URL" ]; then
    "$BIN/etcd" --version 2>/dev/null | grep -qx "etcd Version: $VERSION"
  else
    [ -n "$(dpkg-query -W -f '${Version}' etcd-server 2>/dev/null)" ]
  fi
}

stage_check() {
  installed || { CHECK_MSG="etcd ${VERSION:-(etcd-server)} is not installed"; return 1; }
  systemctl is-active --quiet etcd || { CHECK_MSG="etcd is not running"; return 1; }
  members=$(local_etcd member list -w simple 2>/dev/null) || { CHECK_MSG="etcd does not answer on $IP"; return 1; }
  [ "$(member_status "$members" "https://$IP:2380")" = "started false" ] || { CHECK_MSG="etcd does not list this node as a started voter"; return 1; }
  local_etcd endpoint health >/dev/null 2>&1 || { CHECK_MSG="this member is not healthy (no quorum yet?)"; return 1; }
  CHECK_MSG="etcd ${VERSION:-(etcd-server)} runs; $(printf '%s\n' "$members" | grep -c ', started, ') members started"
}

# The release archive, checked against its pinned digest before anything of it is used.
install_release() {
  tgz=$RUN_DIR/etcd.tar.gz
  mkdir -p "$RUN_DIR" "$BIN"
  curl -fsSL --retry 3 --max-time 600 -o "$tgz" "$URL" || die "could not download etcd from $URL"
  got=$(sha256sum "$tgz" | cut -d' ' -f1)
  [ "$got" = "$IMGFORGE_ASSEMBLY_ETCD_SHA256" ] || { rm -f "$tgz"; fatal "etcd from $URL has SHA-256 $got, not the pinned $IMGFORGE_ASSEMBLY_ETCD_SHA256"; }
  rm -rf "$RUN_DIR/etcd" && mkdir -p "$RUN_DIR/etcd"
  tar -xzf "$tgz" -C "$RUN_DIR/etcd" --strip-components=1 || die "could not unpack $tgz"
  for b in etcd etcdctl etcdutl; do
    atomic_write "$BIN/$b" 0755 <"$RUN_DIR/etcd/$b" || die "could not install $b"
  done
  rm -rf "$tgz" "$RUN_DIR/etcd"
}

stage_apply() {
  have curl:curl sha256sum:coreutils tar:tar
  [ -n "$IP" ] || fatal "an etcd member needs a static address"
  wait_clock
  if ! installed; then
    if [ -n "$URL" ]; then
      install_release
    else
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q -o DPkg::Lock::Timeout=600 || die "apt-get update failed"
      apt-get install -y -q -o DPkg::Lock::Timeout=600 etcd-server etcd-client || die "apt-get install etcd-server failed"
    fi
  fi
  mkdir -p "$ROOT/var/lib/etcd" && chmod 0700 "$ROOT/var/lib/etcd"
  systemctl daemon-reload
  # Not waited for: etcd is ready only with a majority of the members, the wait below has the deadline.
  systemctl enable --no-reload --quiet etcd
  systemctl start --no-block etcd
  note "waiting for a majority of the etcd members"
  wait_for "$WAIT_OTHERS" "a majority of the etcd members" local_etcd endpoint health || die "$(last_reason "etcd has no quorum")"
}
