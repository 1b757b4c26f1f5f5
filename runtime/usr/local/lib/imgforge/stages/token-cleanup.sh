# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (assembly.nodes, .controlPlanes) as variables.
# Stage "token-cleanup", on the leader: once every node of the config has joined, the bootstrap
# token they joined with is deleted (kubeadm token delete), so the token baked into every image
# no longer lets anything join. Until then it waits, with a deadline; the next boot waits again.
# shellcheck source-path=SCRIPTDIR/.. source=lib-kube.sh
. "$IMGFORGE_LIB/lib-kube.sh"

# The token kubeadm init created: the one in the InitConfiguration (not this node's own file,
# which rotate-token may have changed).
TOKEN_ID=$(sed -n 's/^  - token: \([a-z0-9]\{6\}\)\..*/\1/p' "$KUBEADM_CONF" 2>/dev/null | head -n1 || true)

token_gone() { ! kctl -n kube-system get secret "bootstrap-token-$TOKEN_ID" >/dev/null 2>&1; }

# The nodes of the config that have not joined yet, one per line. A control plane's Node is
# registered half way through its join (kubelet-start), before its etcd member is promoted: it
# has joined once kubeadm marked it (mark-control-plane, the join's last phase). Deleting the
# token earlier would leave a control plane whose join a power cut interrupted unable to join again.
missing() {
  joined=$(kctl get nodes -o name 2>/dev/null | sed 's|^node/||') || return 0
  marked=$(kctl get nodes -l node-role.kubernetes.io/control-plane -o name 2>/dev/null | sed 's|^node/||') || return 0
  for n in $IMGFORGE_ASSEMBLY_NODES; do
    printf '%s\n' "$joined" | grep -qx "$n" || { echo "$n"; continue; }
    printf '%s\n' "${IMGFORGE_ASSEMBLY_CONTROL_PLANES:-}" | grep -qx "$n" || continue
    printf '%s\n' "$marked" | grep -qx "$n" || echo "$n"
  done
}

all_joined() {
  m=$(missing)
  [ -z "$m" ] && return 0
  reason "not yet joined: $(printf '%s' "$m" | tr '\n' ' ')"
  return 1
}

stage_check() {
  [ -n "$TOKEN_ID" ] || { CHECK_MSG="no bootstrap token in kubeadm.yaml"; return 1; }
  kctl get --raw /readyz >/dev/null 2>&1 || { CHECK_MSG="the API does not answer"; return 1; }
  token_gone || { CHECK_MSG="the bootstrap token $TOKEN_ID still exists"; return 1; }
  CHECK_MSG="every node has joined; the bootstrap token $TOKEN_ID is deleted"
}

stage_apply() {
  have kubeadm:kubeadm kubectl:kubectl
  [ -n "$TOKEN_ID" ] || fatal "no bootstrap token in /etc/imgforge/secrets/kubeadm.yaml"
  note "waiting until every node has joined"
  wait_for "$WAIT_OTHERS" "every node to join" all_joined || die "not every node has joined by the deadline; not yet: $(missing | tr '\n' ' ')"
  kubeadm token delete "$TOKEN_ID" --kubeconfig "$ADMIN_CONF" || die "kubeadm token delete failed"
}
