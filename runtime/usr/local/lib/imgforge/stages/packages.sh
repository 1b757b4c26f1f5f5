# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (assembly.packages.*) as variables.
# Stage "packages": containerd, kubelet, kubeadm and kubectl at their pinned versions, held.
# Each repository's signing key is downloaded and accepted only when its fingerprint is the one
# pinned in node.json (data/packages.yaml); apt then checks every package against the signed
# Release (install-kubeadm; docs.docker.com/engine/install/ubuntu). containerd gets imgforge's
# config.toml (systemd cgroups, the pause image this kubeadm expects) and crictl its endpoint.

# shellcheck source-path=SCRIPTDIR/.. source=lib-kube.sh
. "$IMGFORGE_LIB/lib-kube.sh"

KEYRINGS=$ROOT/etc/apt/keyrings
SOURCES=$ROOT/etc/apt/sources.list.d
CONTAINERD_CONF=$ROOT/etc/containerd/config.toml
CRICTL_CONF=$ROOT/etc/crictl.yaml
KUBE_VERSION=$IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_VERSION
CONTAINERD_PKG=$IMGFORGE_ASSEMBLY_PACKAGES_CONTAINERD_PACKAGE
CONTAINERD_LINE=$IMGFORGE_ASSEMBLY_PACKAGES_CONTAINERD_LINE
export DEBIAN_FRONTEND=noninteractive
# apt waits for the dpkg lock (cloud-init or apt-daily may hold it at first boot) instead of failing.

version_of() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null; }

# The pause image of this kubeadm and image repository, from kubeadm itself.
pause_image() {
  kubeadm config images list --kubernetes-version "v$KUBE_VERSION" \
    ${IMGFORGE_ASSEMBLY_IMAGE_REPOSITORY:+--image-repository "$IMGFORGE_ASSEMBLY_IMAGE_REPOSITORY"} 2>/dev/null | grep '/pause:' || true
}

# containerd's config as installed, with its pause image put back as a placeholder: imgforge's?
containerd_conf_ok() {
  [ -s "$CONTAINERD_CONF" ] || return 1
  sed 's|^  sandbox_image = ".*"$|  sandbox_image = "@PAUSE_IMAGE@"|' "$CONTAINERD_CONF" | cmp -s - "$IMGFORGE_LIB/conf/containerd.toml" \
    && ! grep -q '@PAUSE_IMAGE@' "$CONTAINERD_CONF"
}

stage_check() {
  for p in $IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_INSTALL; do
    v=$(version_of "$p") || v=
    case $p in
      kubelet | kubeadm | kubectl) case $v in "$KUBE_VERSION"-*) ;; *) CHECK_MSG="$p is ${v:-not installed}, not $KUBE_VERSION"; return 1 ;; esac ;;
      *) [ -n "$v" ] || { CHECK_MSG="$p is not installed"; return 1; } ;;
    esac
  done
  v=$(version_of "$CONTAINERD_PKG") || v=
  [ -n "$v" ] || { CHECK_MSG="$CONTAINERD_PKG is not installed"; return 1; }
  case $v in "$CONTAINERD_LINE".* | "$CONTAINERD_LINE") ;; *) [ -z "$CONTAINERD_LINE" ] || { CHECK_MSG="$CONTAINERD_PKG is $v, not $CONTAINERD_LINE"; return 1; } ;; esac
  for p in $IMGFORGE_ASSEMBLY_PACKAGES_EXTRA; do
    [ -n "$(version_of "$p")" ] || { CHECK_MSG="$p is not installed"; return 1; }
  done
  held=$(apt-mark showhold)
  for p in $IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_HELD $IMGFORGE_ASSEMBLY_PACKAGES_CONTAINERD_HELD; do
    printf '%s\n' "$held" | grep -qx "$p" || { CHECK_MSG="$p is not held"; return 1; }
  done
  containerd_conf_ok || { CHECK_MSG="/etc/containerd/config.toml is not imgforge's"; return 1; }
  cmp -s "$IMGFORGE_LIB/conf/crictl.yaml" "$CRICTL_CONF" || { CHECK_MSG="/etc/crictl.yaml is not imgforge's"; return 1; }
  systemctl is-active --quiet containerd || { CHECK_MSG="containerd is not running"; return 1; }
  crictl info >/dev/null 2>&1 || { CHECK_MSG="containerd does not answer crictl"; return 1; }
  CHECK_MSG="kubelet, kubeadm and kubectl $KUBE_VERSION and $CONTAINERD_PKG ${v} installed and held; containerd runs imgforge's config"
}

# add_repo NAME URL SUITE COMPONENT KEY_URL FINGERPRINT: the repository's key, checked, and its source line.
add_repo() {
  keyring=$KEYRINGS/imgforge-$1.gpg
  if [ "$(fingerprint "$keyring")" != "$6" ]; then
    curl -fsSL --retry 3 --max-time 60 -o "$RUN_DIR/$1.key" "$5" || die "could not download the $1 signing key from $5"
    got=$(fingerprint "$RUN_DIR/$1.key")
    [ "$got" = "$6" ] || fatal "the $1 signing key from $5 has fingerprint ${got:-(none)}, not the pinned $6"
    mkdir -p "$KEYRINGS"
    gpg --dearmor <"$RUN_DIR/$1.key" | atomic_write "$keyring" 0644
  fi
  suite=$3
  # shellcheck source=/dev/null
  [ "$suite" != "{codename}" ] || suite=$(. "$ROOT/etc/os-release" && echo "$VERSION_CODENAME")
  mkdir -p "$SOURCES"
  printf 'deb [signed-by=/etc/apt/keyrings/imgforge-%s.gpg] %s %s %s\n' "$1" "$2" "$suite" "$4" | atomic_write "$SOURCES/imgforge-$1.list" 0644
}

# The primary key's fingerprint of an OpenPGP key file, armored or not; empty if none.
fingerprint() {
  [ -s "$1" ] || return 0
  GNUPGHOME=$(mktemp -d) gpg --batch --show-keys --with-colons "$1" 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }'
}

# newest VERSION of PACKAGE that starts with PREFIX, from the repositories apt knows (apt-cache madison lists newest first).
newest() { apt-cache madison "$1" | awk -F' [|] ' -v p="$2" 'index($2, p) == 1 { gsub(/ /, "", $2); print $2; exit }'; }

stage_apply() {
  have curl:curl gpg:gpg apt-get:apt
  wait_clock
  mkdir -p "$RUN_DIR"
  add_repo kubernetes "$IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_URL" "$IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_SUITE" \
    "$IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_COMPONENT" "$IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_KEY" "$IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_FINGERPRINT"
  if [ -n "${IMGFORGE_ASSEMBLY_PACKAGES_CONTAINERD_REPO_URL:-}" ]; then
    add_repo containerd "$IMGFORGE_ASSEMBLY_PACKAGES_CONTAINERD_REPO_URL" "$IMGFORGE_ASSEMBLY_PACKAGES_CONTAINERD_REPO_SUITE" \
      "$IMGFORGE_ASSEMBLY_PACKAGES_CONTAINERD_REPO_COMPONENT" "$IMGFORGE_ASSEMBLY_PACKAGES_CONTAINERD_REPO_KEY" "$IMGFORGE_ASSEMBLY_PACKAGES_CONTAINERD_REPO_FINGERPRINT"
  fi
  apt-get update -q -o DPkg::Lock::Timeout=600 || die "apt-get update failed"
  kv=$(newest kubeadm "$KUBE_VERSION-")
  [ -n "$kv" ] || fatal "the Kubernetes repository has no kubeadm $KUBE_VERSION ($IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_URL)"
  cv=$(newest "$CONTAINERD_PKG" "${CONTAINERD_LINE:+$CONTAINERD_LINE.}")
  [ -n "$cv" ] || fatal "no $CONTAINERD_PKG ${CONTAINERD_LINE:+$CONTAINERD_LINE.x }in the repositories apt knows"
  set --
  for p in $IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_INSTALL; do
    case $p in kubelet | kubeadm | kubectl) set -- "$@" "$p=$kv" ;; *) set -- "$@" "$p" ;; esac
  done
  # shellcheck disable=SC2086 # package names, one word each
  apt-get install -y -q -o DPkg::Lock::Timeout=600 --allow-change-held-packages -o Dpkg::Options::=--force-confold "$@" "$CONTAINERD_PKG=$cv" $IMGFORGE_ASSEMBLY_PACKAGES_EXTRA \
    || die "apt-get install failed"
  # shellcheck disable=SC2086
  apt-mark hold $IMGFORGE_ASSEMBLY_PACKAGES_KUBERNETES_HELD $IMGFORGE_ASSEMBLY_PACKAGES_CONTAINERD_HELD >/dev/null
  pause=$(pause_image)
  [ -n "$pause" ] || die "kubeadm $KUBE_VERSION names no pause image"
  mkdir -p "${CONTAINERD_CONF%/*}"
  sed "s|@PAUSE_IMAGE@|$pause|" "$IMGFORGE_LIB/conf/containerd.toml" | atomic_write "$CONTAINERD_CONF" 0644
  atomic_write "$CRICTL_CONF" 0644 <"$IMGFORGE_LIB/conf/crictl.yaml"
  systemctl enable --now --no-reload --quiet containerd
  systemctl restart containerd
  # kubeadm starts the kubelet when it has its configuration.
  systemctl enable --no-reload --quiet kubelet
  wait_for 60 "containerd to answer crictl" crictl info >/dev/null
}
