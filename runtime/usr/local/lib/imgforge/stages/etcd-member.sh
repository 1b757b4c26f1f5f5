# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (assembly.*) as variables.
# Stage "etcd-member", on a worker given etcd: true: the third etcd member that lets two control
# planes lose one node (seed 000). As kubeadm adds a stacked member (phases/etcd/local.go): add it
# as a learner (etcdctl member add --learner), start it as a static pod with
# --initial-cluster-state=existing, promote it once it has caught up. Its certificates are the
# ones imgforge issued (server, peer, healthcheck-client); the worker holds no etcd CA key.
# shellcheck source-path=SCRIPTDIR/.. source=lib-kube.sh
. "$IMGFORGE_LIB/lib-kube.sh"

NAME=$IMGFORGE_NODE_HOSTNAME
IP=${IMGFORGE_NODE_ADDRESS%/*}
PEER=https://$IP:2380
MANIFEST=$KDIR/manifests/etcd.yaml
CLUSTER_FILE=$STATE_DIR/etcd-initial-cluster
# Every other member with a static address: etcdctl uses whichever answers.
OTHERS=$(printf '%s\n' "$IMGFORGE_ASSEMBLY_ETCD_ENDPOINTS" | grep -vF "https://$IP:" | paste -sd, -)

ectl() { etcd_at "$OTHERS" "$ETCD_PKI/healthcheck-client.crt" "$ETCD_PKI/healthcheck-client.key" "$@"; }
members() { ectl member list -w simple 2>/dev/null; }
answers() { members >/dev/null; }
status() { member_status "$(members)" "$PEER"; }
local_healthy() { etcd_at "https://$IP:2379" "$ETCD_PKI/healthcheck-client.crt" "$ETCD_PKI/healthcheck-client.key" endpoint health >/dev/null 2>&1; }

stage_check() {
  [ -s "$MANIFEST" ] || { CHECK_MSG="no etcd static pod"; return 1; }
  st=$(status)
  [ "$st" = "started false" ] || { CHECK_MSG="etcd lists this member as ${st:-absent}, not a started voter"; return 1; }
  local_healthy || { CHECK_MSG="this member's endpoint is not healthy"; return 1; }
  CHECK_MSG="a started, healthy voting member of etcd"
}

# The --initial-cluster of a member that is already in the list (a power cut after member add):
# every started member by name, and this one.
initial_cluster_from_list() {
  members | awk -F', ' -v p="$PEER" -v n="$NAME" '$2 == "started" && $4 != p { printf "%s%s=%s", s, $3, $4; s = "," } END { printf "%s%s=%s\n", s, n, p }'
}

stage_apply() {
  have etcdctl:etcd-client kubeadm:kubeadm
  [ -n "$IP" ] || fatal "an etcd member needs a static address"
  [ -n "$OTHERS" ] || fatal "no other etcd member has a static address to reach"
  # member list answers through any member that has quorum (endpoint health needs every endpoint).
  wait_for "$WAIT_OTHERS" "etcd at $OTHERS" answers || die "$(last_reason "etcd at $OTHERS does not answer")"
  if [ -z "$(status)" ]; then
    note "adding this node to etcd as a learner"
    out=$(ectl member add "$NAME" --peer-urls="$PEER" --learner) || die "etcdctl member add failed"
    printf '%s\n' "$out" | sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p' | atomic_write "$CLUSTER_FILE" 0644
  fi
  [ -s "$CLUSTER_FILE" ] || initial_cluster_from_list | atomic_write "$CLUSTER_FILE" 0644
  image=$(kubeadm config images list --kubernetes-version "v$IMGFORGE_CLUSTER_KUBERNETES_VERSION" \
    ${IMGFORGE_ASSEMBLY_IMAGE_REPOSITORY:+--image-repository "$IMGFORGE_ASSEMBLY_IMAGE_REPOSITORY"} 2>/dev/null | grep '/etcd:' || true)
  [ -n "$image" ] || die "kubeadm names no etcd image"
  mkdir -p "${MANIFEST%/*}"
  sed -e "s|@NAME@|$NAME|g" -e "s|@IP@|$IP|g" -e "s|@IMAGE@|$image|g" -e "s|@INITIAL_CLUSTER@|$(cat "$CLUSTER_FILE")|g" \
    -e '/^#/d' "$IMGFORGE_LIB/conf/etcd-member.yaml" | atomic_write "$MANIFEST" 0600
  note "waiting for this member to start"
  wait_for 600 "this etcd member to start" started || die "$(last_reason "this etcd member did not start")"
  note "promoting this member to a voter"
  wait_for 600 "the learner to catch up and be promoted" promote || die "$(last_reason "the learner was not promoted")"
}

started() { case $(status) in "started "*) return 0 ;; *) return 1 ;; esac; }

# member promote fails until the learner has caught up with the leader (etcd runtime-configuration).
promote() {
  [ "$(status)" != "started false" ] || return 0
  id=$(members | awk -F', ' -v p="$PEER" '$4 == p { print $1; exit }')
  [ -n "$id" ] && ectl member promote "$id" >/dev/null 2>&1
}
