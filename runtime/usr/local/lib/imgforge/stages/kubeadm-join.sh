# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (assembly.*) as variables.
# Stage "kubeadm-join": every node but the leader joins the cluster the leader made, through the
# endpoint, with the pre-seeded bootstrap token; discovery pins the cluster CA by its hash
# (JoinConfiguration caCertHashes). A control plane waits until the API answers with a certificate
# that chains to its CA, and until the control plane joined before it is a healthy etcd voter:
# one learner at a time ("too many learner members", kubeadm-ha.md §7.1). A worker waits until the
# API answers. A join a power cut left half done is reset (kubeadm reset -f) and made again, with
# the node's pre-seeded keys kept: reset deletes /etc/kubernetes/pki.
# shellcheck source-path=SCRIPTDIR/.. source=lib-kube.sh
. "$IMGFORGE_LIB/lib-kube.sh"

PART=$IMGFORGE_ASSEMBLY_PART
AFTER=${IMGFORGE_ASSEMBLY_AFTER_HOSTNAME:-}
AFTER_ADDRESS=${IMGFORGE_ASSEMBLY_AFTER_ADDRESS:-}
# Written before kubeadm join and after it succeeded: a join is made again only when it began and
# did not finish, never on a node that joined (its kubelet or API merely not up yet at a reboot).
JOIN_STARTED=$STATE_DIR/kubeadm-join.started
JOINED=$STATE_DIR/kubeadm-join.done
CHECK_CERT=$RUN_DIR/etcd-check.crt
CHECK_KEY=$RUN_DIR/etcd-check.key

# What a finished join leaves on the disk; whether the kubelet or the API server runs at this
# moment is theirs to mend (systemd restarts them), and imgforge-status reports it.
joined() {
  [ -e "$JOINED" ] || { CHECK_MSG="this node has not joined"; return 1; }
  [ -s "$KUBELET_CONF" ] || { CHECK_MSG="kubelet.conf is missing although this node joined"; return 1; }
  if [ "$PART" = control-plane ] && { [ ! -s "$KDIR/manifests/kube-apiserver.yaml" ] || [ ! -s "$ADMIN_CONF" ]; }; then
    CHECK_MSG="the control-plane files are missing although this node joined"; return 1
  fi
}

stage_check() {
  joined || return 1
  CHECK_MSG="joined as a $PART through $ENDPOINT"
}

# A short-lived etcd client certificate from the etcd CA this control plane holds, for asking
# etcd about the member before it (CN and group as kubeadm's healthcheck client).
check_cert() {
  [ -s "$CHECK_CERT" ] && return 0
  mkdir -p "$RUN_DIR"
  (umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$CHECK_KEY" \
    -subj "/O=system:masters/CN=kube-etcd-healthcheck-client" -out "$RUN_DIR/etcd-check.csr" 2>/dev/null) || return 1
  printf 'keyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n' >"$RUN_DIR/etcd-check.ext"
  openssl x509 -req -in "$RUN_DIR/etcd-check.csr" -CA "$ETCD_PKI/ca.crt" -CAkey "$ETCD_PKI/ca.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
    -days 2 -extfile "$RUN_DIR/etcd-check.ext" -out "$CHECK_CERT" 2>/dev/null
}

# The control plane before this one is a started voting member, and its endpoint is healthy.
after_is_voter() {
  members=$(etcd_at "https://$AFTER_ADDRESS:2379" "$CHECK_CERT" "$CHECK_KEY" member list -w simple 2>/dev/null) || return 1
  [ "$(member_status "$members" "https://$AFTER_ADDRESS:2380")" = "started false" ] || return 1
  etcd_at "https://$AFTER_ADDRESS:2379" "$CHECK_CERT" "$CHECK_KEY" endpoint health >/dev/null 2>&1
}

# kubeadm reset deletes /etc/kubernetes/pki: the node's pre-seeded keys are kept in memory's
# file system meanwhile and put back with their modes.
reset_keeping_keys() {
  keep=$RUN_DIR/keep-pki
  rm -rf "$keep" && mkdir -p "$keep" && chmod 0700 "$keep"
  for f in ${IMGFORGE_SECRETS_FILES:-}; do
    case $f in /etc/kubernetes/pki/*) [ ! -e "$ROOT$f" ] || { mkdir -p "$keep${f%/*}" && cp -p "$ROOT$f" "$keep$f"; } ;; esac
  done
  kubeadm reset -f || die "kubeadm reset failed"
  for f in ${IMGFORGE_SECRETS_FILES:-}; do
    [ -e "$keep$f" ] || continue
    mode=$(stat -c %a "$keep$f")
    mkdir -p "$ROOT${f%/*}"
    atomic_write "$ROOT$f" "$mode" <"$keep$f"
  done
  rm -rf "$keep"
}

stage_apply() {
  have kubeadm:kubeadm curl:curl
  # Joined, but a file of the join is gone: someone changed the node; never joined again by itself.
  if [ -e "$JOINED" ]; then
    # stage_apply runs in a process of its own: what the check found is found again for the message.
    CHECK_MSG=
    joined || true
    fatal "${CHECK_MSG:-this node joined, but its join files are gone}; reset the node by hand (kubeadm reset -f, remove $JOINED) to join it again"
  fi
  wait_clock
  if [ "$PART" = control-plane ]; then ca=$KDIR/pki/ca.crt; else ca=; fi
  note "waiting for the API at $ENDPOINT"
  wait_for "$WAIT_OTHERS" "the API at $ENDPOINT" endpoint_ready "$ca" || die "$(last_reason "the API at $ENDPOINT did not answer")"
  if [ -n "$AFTER" ]; then
    have etcdctl:etcd-client openssl:openssl
    check_cert || die "could not make an etcd client certificate from the etcd CA"
    note "waiting until $AFTER is a healthy etcd voter"
    wait_for "$WAIT_OTHERS" "$AFTER to be a healthy etcd voter" after_is_voter || die "$(last_reason "$AFTER is not a healthy etcd voter")"
  fi
  if [ -e "$JOIN_STARTED" ]; then
    note "a join that did not finish: kubeadm reset -f, keeping the pre-seeded keys"
    reset_keeping_keys
  elif [ -e "$KUBELET_CONF" ]; then
    fatal "kubelet.conf exists but imgforge never began a join here: the node was joined some other way; reset it by hand to let imgforge join it"
  fi
  mkdir -p "$STATE_DIR"
  : | atomic_write "$JOIN_STARTED" 0644
  note "kubeadm join as a $PART"
  kubeadm join --config "$KUBEADM_CONF" || die "kubeadm join failed"
  systemctl enable --no-reload --quiet kubelet
  : | atomic_write "$JOINED" 0644
  rm -f "$JOIN_STARTED"
}
