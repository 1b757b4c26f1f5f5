# shellcheck shell=sh
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env.
# shellcheck disable=SC2034 # the stages that source this file use what they need of it.
# What the assembly stages share: kubeadm's files, the endpoint, the API and etcd as seen from here.

KUBEADM_CONF=$ROOT/etc/imgforge/secrets/kubeadm.yaml
KDIR=$ROOT/etc/kubernetes
ADMIN_CONF=$KDIR/admin.conf
KUBELET_CONF=$KDIR/kubelet.conf
ETCD_PKI=$KDIR/pki/etcd
KUBE_VIP=$KDIR/manifests/kube-vip.yaml
ENDPOINT=$IMGFORGE_CLUSTER_ENDPOINT_HOST:$IMGFORGE_CLUSTER_ENDPOINT_PORT
# How long a node waits for another: the leader may be powered on last.
# Each wait for other machines; a stage that waits twice still ends within its 2-hour timeout.
WAIT_OTHERS=${IMGFORGE_WAIT_OTHERS:-3300}

# Certificates are checked against the clock and an SBC has no RTC: wait for the first NTP sync
# (systemd-timesyncd marks it, systemd-timesyncd.service(8)), at most 3 minutes; a LAN without an
# NTP server still assembles, with a warning.
wait_clock() {
  wait_for 180 "the first NTP sync" test -e "$ROOT/run/systemd/timesync/synchronized" \
    || note "warning: the clock is not synchronised (no NTP server answered); certificates are checked against $(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

kctl() { kubectl --kubeconfig "$ADMIN_CONF" --request-timeout=10s "$@"; }

# The local API server answers /readyz (any certificate: it is this node's).
local_api_ready() { curl -sfk --max-time 5 -o /dev/null "https://127.0.0.1:$IMGFORGE_ASSEMBLY_API_SERVER_PORT/readyz"; }

# The API answers at the endpoint; with a CA file, only with a certificate that chains to it.
endpoint_ready() {
  if [ -n "${1:-}" ]; then
    curl -sf --max-time 5 --cacert "$1" -o /dev/null "https://$ENDPOINT/readyz"
  else
    curl -sfk --max-time 5 -o /dev/null "https://$ENDPOINT/readyz"
  fi
}

# etcdctl against ENDPOINTS with a client certificate: etcd_at ENDPOINTS CERT KEY ARGS...
etcd_at() {
  e_endpoints=$1 e_cert=$2 e_key=$3
  shift 3
  ETCDCTL_API=3 etcdctl --endpoints="$e_endpoints" --cacert="$ETCD_PKI/ca.crt" --cert="$e_cert" --key="$e_key" --command-timeout=5s "$@"
}

# member_status LIST PEER_URL: "started false" (status, is-learner) of the member with that peer
# URL in `etcdctl member list -w simple` output (ID, status, name, peer URLs, client URLs, learner).
member_status() {
  printf '%s\n' "$1" | awk -F', ' -v p="$2" '$4 == p { print $2, $6; exit }'
}
