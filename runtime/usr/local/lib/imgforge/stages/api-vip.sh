# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (assembly.vip.*) as variables.
# Stage "api-vip": keepalived (and HAProxy, when it balances) for the API VIP on a control plane
# (kubernetes/kubeadm docs/ha-considerations.md). The leader runs it before kubeadm init and
# holds the VIP from then on (its VRRP priority is the highest); the others after they joined,
# as seed 000 does, so the VIP never moves to a node without an API server during assembly.

KEEPALIVED_CONF=$ROOT/etc/keepalived/keepalived.conf
KEEPALIVED_SRC=$ROOT/etc/imgforge/secrets/keepalived.conf.in
HAPROXY_CONF=$ROOT/etc/haproxy/haproxy.cfg
HAPROXY_SRC=$ROOT/etc/imgforge/haproxy.cfg
VIP=$IMGFORGE_ASSEMBLY_VIP_ADDRESS
ADDRESS=${IMGFORGE_NODE_ADDRESS%/*}

# The interface that carries the node's address; with DHCP, the default route's.
lan_interface() {
  if [ -n "$ADDRESS" ]; then
    ip -o -4 addr show | awk -v a="$ADDRESS" 'index($4, a "/") == 1 { print $2; exit }'
  else
    ip -o -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }'
  fi
}

holds_vip() { ip -o -4 addr show | awk -v v="$VIP" 'index($4, v "/") == 1 { f = 1 } END { exit !f }'; }

haproxy() { [ "$IMGFORGE_ASSEMBLY_VIP_PROVIDER" = keepalived+haproxy ]; }

KUBE_VIP=$ROOT/etc/kubernetes/manifests/kube-vip.yaml

# kube-vip's manifest for this node: on the leader before init with super-admin.conf, which
# kubeadm-init swaps for admin.conf once init has given admin.conf its rights (kube-vip#684).
kube_vip_manifest() {
  kv_conf=/etc/kubernetes/admin.conf
  [ "$IMGFORGE_ASSEMBLY_PART" != init ] || [ -s "$ROOT/etc/kubernetes/admin.conf" ] || kv_conf=/etc/kubernetes/super-admin.conf
  sed -e "s|@IMAGE@|$IMGFORGE_ASSEMBLY_VIP_IMAGE|" -e "s|@PORT@|$IMGFORGE_ASSEMBLY_API_SERVER_PORT|" -e "s|@INTERFACE@|$1|" \
    -e "s|@VIP@|$VIP|" -e "s|@KUBECONFIG@|$kv_conf|" -e '/^#/d' "$IMGFORGE_LIB/conf/kube-vip.yaml"
}

kube_vip_check() {
  kube_vip_manifest "$1" | cmp -s - "$KUBE_VIP" && return 0
  # After init the leader's manifest names admin.conf: also imgforge's.
  kube_vip_manifest "$1" | sed 's|/etc/kubernetes/super-admin.conf|/etc/kubernetes/admin.conf|' | cmp -s - "$KUBE_VIP"
}

stage_check() {
  if [ "$IMGFORGE_ASSEMBLY_VIP_PROVIDER" = kube-vip ]; then
    iface=$(lan_interface)
    [ -n "$iface" ] || { CHECK_MSG="no interface carries ${ADDRESS:-a default route}"; return 1; }
    kube_vip_check "$iface" || { CHECK_MSG="kube-vip's manifest is not imgforge's for $iface"; return 1; }
    CHECK_MSG="kube-vip's static pod for $VIP on $iface"
    return 0
  fi
  iface=$(lan_interface)
  [ -n "$iface" ] || { CHECK_MSG="no interface carries ${ADDRESS:-a default route}"; return 1; }
  sed "s/@INTERFACE@/$iface/" "$KEEPALIVED_SRC" | cmp -s - "$KEEPALIVED_CONF" || { CHECK_MSG="keepalived.conf is not imgforge's for $iface"; return 1; }
  if haproxy; then
    cmp -s "$HAPROXY_SRC" "$HAPROXY_CONF" || { CHECK_MSG="haproxy.cfg is not imgforge's"; return 1; }
    systemctl is-active --quiet haproxy || { CHECK_MSG="haproxy is not running"; return 1; }
  fi
  systemctl is-active --quiet keepalived || { CHECK_MSG="keepalived is not running"; return 1; }
  # Before init, the leader must hold the VIP: kubeadm init's later phases go through it.
  if [ "$IMGFORGE_ASSEMBLY_PART" = init ] && [ ! -s "$ROOT/etc/kubernetes/admin.conf" ]; then
    holds_vip || { CHECK_MSG="this node does not hold the VIP $VIP"; return 1; }
  fi
  CHECK_MSG="keepalived${IMGFORGE_ASSEMBLY_VIP_PROVIDER#keepalived} for $VIP on $iface, VRRP priority $IMGFORGE_ASSEMBLY_VIP_PRIORITY"
}

stage_apply() {
  have ip:iproute2
  iface=$(lan_interface)
  [ -n "$iface" ] || die "no interface carries ${ADDRESS:-a default route}"
  if [ "$IMGFORGE_ASSEMBLY_VIP_PROVIDER" = kube-vip ]; then
    # The kubelet runs it: on the leader from kubeadm init on, elsewhere at once.
    mkdir -p "${KUBE_VIP%/*}"
    kube_vip_manifest "$iface" | atomic_write "$KUBE_VIP" 0600
    return 0
  fi
  have keepalived:keepalived curl:curl
  if haproxy; then
    have haproxy:haproxy
    mkdir -p "${HAPROXY_CONF%/*}"
    atomic_write "$HAPROXY_CONF" 0644 <"$HAPROXY_SRC"
    systemctl enable --now --no-reload --quiet haproxy
    systemctl restart haproxy
  fi
  mkdir -p "${KEEPALIVED_CONF%/*}"
  # 0600: it holds the VRRP password.
  sed "s/@INTERFACE@/$iface/" "$KEEPALIVED_SRC" | atomic_write "$KEEPALIVED_CONF" 0600
  systemctl enable --now --no-reload --quiet keepalived
  systemctl restart keepalived
  if [ "$IMGFORGE_ASSEMBLY_PART" = init ] && [ ! -s "$ROOT/etc/kubernetes/admin.conf" ]; then
    note "waiting to hold the VIP $VIP"
    # VRRP: a backup with no master becomes master after three advertisement intervals (RFC 5798 §6.4.2).
    wait_for 60 "the VIP $VIP on $iface" holds_vip || die "keepalived did not bring up $VIP on $iface: is another machine on the LAN using the same virtual_router_id, or holding the address?"
  fi
}
