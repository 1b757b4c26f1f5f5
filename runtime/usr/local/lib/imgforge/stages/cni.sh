# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (assembly.cni.*) as variables.
# Stage "cni", on the leader once kubeadm init is done: the Gateway API CRDs first (Cilium's
# Gateway controller needs them before it starts: cilium gateway-api installation.rst), then the
# pod network. Cilium with its CLI (cilium install --version, as kubespray does), replacing
# kube-proxy when the config says so, its agents reaching the API at the VIP (kubeproxy-free.rst);
# Calico with Tigera's operator chart through Helm. Every file downloaded is accepted only with
# its pinned SHA-256, the chart archive with the one its repository's index gives it.
# shellcheck source-path=SCRIPTDIR/.. source=lib-kube.sh
. "$IMGFORGE_LIB/lib-kube.sh"

PLUGIN=$IMGFORGE_ASSEMBLY_CNI_PLUGIN
VERSION=${IMGFORGE_ASSEMBLY_CNI_VERSION:-}
GATEWAY_URL=${IMGFORGE_ASSEMBLY_CNI_GATEWAY_API_URL:-}
TOOL=$IMGFORGE_ASSEMBLY_CNI_TOOL_NAME
REPOSITORY=${IMGFORGE_ASSEMBLY_CNI_REPOSITORY%/}
MIRROR=${IMGFORGE_ASSEMBLY_CNI_DOWNLOADS_MIRROR:-}
BIN=$ROOT/usr/local/bin

gateway_ok() {
  [ -z "$GATEWAY_URL" ] || kctl get crd gateways.gateway.networking.k8s.io httproutes.gateway.networking.k8s.io >/dev/null 2>&1
}

cni_ok() {
  if [ "$PLUGIN" = cilium ]; then
    kctl -n kube-system get daemonset cilium >/dev/null 2>&1
  else
    kctl get installation default >/dev/null 2>&1
  fi
}

stage_check() {
  gateway_ok || { CHECK_MSG="the Gateway API CRDs are not installed"; return 1; }
  cni_ok || { CHECK_MSG="$PLUGIN is not installed"; return 1; }
  CHECK_MSG="$PLUGIN ${VERSION:-} installed${GATEWAY_URL:+, with the Gateway API CRDs}"
}

# fetch URL SHA256 FILE: download, then refuse anything but the pinned bytes.
fetch() {
  curl -fsSL --retry 3 --max-time 600 -o "$3" "$1" || die "could not download $1"
  got=$(sha256sum "$3" | cut -d' ' -f1)
  [ "$got" = "$2" ] || { rm -f "$3"; fatal "$1 has SHA-256 $got, not the pinned $2"; }
}

# chart_archive FILE: the tigera-operator chart at the config's version, taken as helm takes it from
# a repository (Helm's chart_repository.md: index.yaml names each version's archive and its
# SHA-256 digest) but fetched here, because Tigera's index names its archives by absolute GitHub
# release URLs (projectcalico/calico#5143) that `helm --repo` would fetch past any mirror. An
# absolute URL goes through the downloads mirror when the config names one (<mirror>/<host>/<path>,
# as every release file); a relative one is the repository's.
chart_archive() {
  index=$RUN_DIR/index.yaml
  curl -fsSL --retry 3 --max-time 120 -o "$index" "$REPOSITORY/index.yaml" || die "could not download $REPOSITORY/index.yaml"
  # cloud-init depends on python3-yaml: wherever a seed is read, this parser is there.
  entry=$(python3 -c 'import sys, yaml
index = yaml.safe_load(open(sys.argv[1])) or {}
for e in (index.get("entries") or {}).get("tigera-operator") or []:
    if e.get("version") == sys.argv[2] and e.get("urls") and e.get("digest"):
        print(e["digest"], e["urls"][0])
        break' "$index" "v$VERSION") || fatal "$REPOSITORY/index.yaml is not a chart repository's index"
  [ -n "$entry" ] || fatal "no tigera-operator v$VERSION with a digest in $REPOSITORY/index.yaml"
  url=${entry#* }
  case $url in
    http://* | https://*) [ -z "$MIRROR" ] || url=$MIRROR/${url#*://} ;;
    *) url=$REPOSITORY/$url ;;
  esac
  fetch "$url" "${entry%% *}" "$1"
}

# The installer (cilium or helm) from its release archive, once; its digest is remembered beside it.
install_tool() {
  [ "$(cat "$STATE_DIR/$TOOL.sha256" 2>/dev/null)" = "$IMGFORGE_ASSEMBLY_CNI_TOOL_SHA256" ] && [ -x "$BIN/$TOOL" ] && return 0
  mkdir -p "$RUN_DIR/tool" "$BIN"
  fetch "$IMGFORGE_ASSEMBLY_CNI_TOOL_URL" "$IMGFORGE_ASSEMBLY_CNI_TOOL_SHA256" "$RUN_DIR/tool.tgz"
  tar -xzf "$RUN_DIR/tool.tgz" -C "$RUN_DIR/tool" || die "could not unpack $IMGFORGE_ASSEMBLY_CNI_TOOL_URL"
  # helm's archive holds linux-<arch>/helm; cilium's holds cilium.
  found=$(find "$RUN_DIR/tool" -type f -name "$TOOL" | head -n1)
  [ -n "$found" ] || fatal "no $TOOL in $IMGFORGE_ASSEMBLY_CNI_TOOL_URL"
  atomic_write "$BIN/$TOOL" 0755 <"$found"
  printf '%s\n' "$IMGFORGE_ASSEMBLY_CNI_TOOL_SHA256" | atomic_write "$STATE_DIR/$TOOL.sha256" 0644
  rm -rf "$RUN_DIR/tool" "$RUN_DIR/tool.tgz"
}

stage_apply() {
  have curl:curl sha256sum:coreutils tar:tar kubectl:kubectl
  export KUBECONFIG="$ADMIN_CONF"
  wait_for 600 "the API" kctl get --raw /readyz || die "$(last_reason "the API does not answer")"
  if [ -n "$GATEWAY_URL" ] && ! gateway_ok; then
    mkdir -p "$RUN_DIR"
    fetch "$GATEWAY_URL" "$IMGFORGE_ASSEMBLY_CNI_GATEWAY_API_SHA256" "$RUN_DIR/gateway-api.yaml"
    # Server-side: CRDs this large exceed client-side apply's annotation limit (kubeadm-ha.md §5.2).
    kctl apply --server-side -f "$RUN_DIR/gateway-api.yaml" || die "could not apply the Gateway API CRDs"
    kctl wait --for condition=Established --timeout=120s crd/gateways.gateway.networking.k8s.io crd/httproutes.gateway.networking.k8s.io \
      || die "the Gateway API CRDs were not established"
  fi
  cni_ok && return 0
  install_tool
  if [ "$PLUGIN" = cilium ]; then
    set -- --set "k8sServiceHost=$IMGFORGE_ASSEMBLY_CNI_API_SERVER_HOST" --set "k8sServicePort=$IMGFORGE_ASSEMBLY_CNI_API_SERVER_PORT" \
      --set "ipam.operator.clusterPoolIPv4PodCIDRList={$IMGFORGE_ASSEMBLY_CNI_POD_CIDR}"
    [ "$IMGFORGE_ASSEMBLY_CNI_KUBE_PROXY_REPLACEMENT" != 1 ] || set -- "$@" --set kubeProxyReplacement=true
    [ -z "$GATEWAY_URL" ] || set -- "$@" --set gatewayAPI.enabled=true
    cilium install ${VERSION:+--version "$VERSION"} --repository "$REPOSITORY" "$@" || die "cilium install failed"
  else
    have python3:python3-yaml
    mkdir -p "$RUN_DIR"
    chart_archive "$RUN_DIR/tigera-operator.tgz"
    helm upgrade --install calico "$RUN_DIR/tigera-operator.tgz" \
      --namespace tigera-operator --create-namespace \
      --set "installation.calicoNetwork.ipPools[0].cidr=$IMGFORGE_ASSEMBLY_CNI_POD_CIDR" || die "helm install of Calico failed"
  fi
  wait_for 300 "$PLUGIN to be created" cni_ok || die "$(last_reason "$PLUGIN was not created")"
}
