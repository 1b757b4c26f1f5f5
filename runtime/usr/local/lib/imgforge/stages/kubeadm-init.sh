# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# Stage "kubeadm-init", on the leader only: kubeadm init, once, with the certificate authorities,
# service-account key and bootstrap token imgforge made (no --upload-certs: every control plane
# already has the shared keys). kubeadm init never runs over an existing admin.conf or etcd data.
# A power cut after init wrote admin.conf (its kubeconfig phase) leaves phases undone: the next
# attempt runs those phases one by one (kubeadm init phase ..., each safe to repeat), never init.
# shellcheck source-path=SCRIPTDIR/.. source=lib-kube.sh
. "$IMGFORGE_LIB/lib-kube.sh"

# Written once init (or its resumption) has finished: after it, a later boot whose API is not up
# yet changes nothing; kubeadm's phases never run again on a finished cluster.
INIT_DONE=$STATE_DIR/kubeadm-init.done

stage_check() {
  [ -s "$ADMIN_CONF" ] || { CHECK_MSG="no admin.conf: kubeadm init has not run"; return 1; }
  if [ -e "$INIT_DONE" ]; then
    CHECK_MSG="the cluster was initialised here"
    return 0
  fi
  kctl get --raw /readyz >/dev/null 2>&1 || { CHECK_MSG="the API does not answer /readyz"; return 1; }
  kctl -n kube-system get configmap kubeadm-config >/dev/null 2>&1 || { CHECK_MSG="no kubeadm-config ConfigMap: init did not finish"; return 1; }
  kctl -n kube-public get configmap cluster-info >/dev/null 2>&1 || { CHECK_MSG="no cluster-info ConfigMap: init did not finish"; return 1; }
  # kubelet-finalize points kubelet.conf at the kubelet's rotating client certificate.
  grep -q 'client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem' "$KUBELET_CONF" 2>/dev/null \
    || { CHECK_MSG="kubelet.conf does not use the rotating client certificate: init did not finish"; return 1; }
  kctl -n kube-system get deployment coredns >/dev/null 2>&1 || { CHECK_MSG="no CoreDNS: init did not finish"; return 1; }
  grep -q '/etc/kubernetes/super-admin.conf' "$KUBE_VIP" 2>/dev/null \
    && { CHECK_MSG="kube-vip still uses super-admin.conf"; return 1; }
  # kube-proxy runs exactly when the configuration has its document (not with Cilium's replacement).
  if grep -q '^kind: KubeProxyConfiguration' "$KUBEADM_CONF"; then
    kctl -n kube-system get daemonset kube-proxy >/dev/null 2>&1 || { CHECK_MSG="no kube-proxy: init did not finish"; return 1; }
  fi
  # Observed finished (a cut fell between init and its record): recorded, so later boots trust it.
  if mkdir -p "$STATE_DIR" 2>/dev/null; then : | atomic_write "$INIT_DONE" 0644 || true; fi
  CHECK_MSG="the cluster is initialised and its API answers"
}

# The phases after kubeconfig, in kubeadm init's order (kubeadm init --help), without preflight,
# which refuses a node that has begun; upload-certs is not used; wait-control-plane is the wait here.
resume() {
  note "admin.conf exists: finishing the phases kubeadm init had not reached"
  # Files a cut may have left unwritten (the kubeconfigs after admin.conf); both keep valid ones.
  kubeadm init phase certs all --config "$KUBEADM_CONF"
  kubeadm init phase kubeconfig all --config "$KUBEADM_CONF"
  kubeadm init phase etcd local --config "$KUBEADM_CONF"
  kubeadm init phase control-plane all --config "$KUBEADM_CONF"
  kubeadm init phase kubelet-start --config "$KUBEADM_CONF"
  wait_for 600 "the API server" local_api_ready || die "the API server did not answer /readyz within 10 minutes"
  for phase in "upload-config all" "mark-control-plane" "bootstrap-token" "kubelet-finalize all" "addon all"; do
    # shellcheck disable=SC2086 # a phase and its sub-phase, two words
    kubeadm init phase $phase --config "$KUBEADM_CONF" || die "kubeadm init phase $phase failed"
  done
}

# kube-vip read super-admin.conf while init bound admin.conf its rights; admin.conf from now on.
kube_vip_to_admin() {
  grep -q '/etc/kubernetes/super-admin.conf' "$KUBE_VIP" 2>/dev/null || return 0
  sed 's|/etc/kubernetes/super-admin.conf|/etc/kubernetes/admin.conf|' "$KUBE_VIP" | atomic_write "$KUBE_VIP" 0600
}

# With external etcd, init needs the etcd cluster's quorum (kubeadm preflight checks its version).
external_etcd_ready() {
  for e in $IMGFORGE_ASSEMBLY_ETCD_ENDPOINTS; do
    etcd_at "$e" "$KDIR/pki/apiserver-etcd-client.crt" "$KDIR/pki/apiserver-etcd-client.key" endpoint health >/dev/null 2>&1 && return 0
  done
  return 1
}

finished() {
  kube_vip_to_admin
  mkdir -p "$STATE_DIR"
  : | atomic_write "$INIT_DONE" 0644
}

stage_apply() {
  have kubeadm:kubeadm kubectl:kubectl curl:curl
  wait_clock
  if [ -s "$ADMIN_CONF" ]; then
    resume
    finished
    return 0
  fi
  if [ -n "$(ls -A "$ROOT/var/lib/etcd" 2>/dev/null)" ]; then
    fatal "/var/lib/etcd holds data but there is no admin.conf: kubeadm init will not run over it (kubeadm reset -f on this node starts it over)"
  fi
  if grep -q '^  external:' "$KUBEADM_CONF"; then
    have etcdctl:etcd-client
    note "waiting for the external etcd cluster"
    wait_for "$WAIT_OTHERS" "the external etcd cluster" external_etcd_ready || die "$(last_reason "the external etcd cluster is not healthy")"
  fi
  note "kubeadm init"
  kubeadm init --config "$KUBEADM_CONF" || die "kubeadm init failed"
  finished
}
