"""kubeadm init for the lab's kubeadm stand-in (test/lab; never in an image built for a user):
its phases as kubeadm runs them (cmd/kubeadm/app/cmd/phases/init), certificates signed by the
pre-seeded CAs, kubeconfigs, static pods for etcd (the real etcd, run by the kubelet stand-in) and
the API server stand-in, then through the API the kubeadm-config ConfigMap, the control-plane label
and taint, the bootstrap token's Secret, the cluster-info ConfigMap signed with the token (JWS), the
kubelet's rotating certificate path, CoreDNS and kube-proxy. A joining control plane runs the same
certificate, kubeconfig and static pod steps (kubeadm_join.py)."""
import base64
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import subprocess
import time

from standin import fail
import kube
import pki
import yaml

VERSION = "@VERSION@"
K = "/etc/kubernetes"
PKI = pki.PKI
MANIFESTS = K + "/manifests"
# The shared files of kubeadm's manual certificate distribution: what a control plane needs pre-seeded.
SHARED = ["ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key"]


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Init:
    def __init__(self, docs):
        self.init = docs.get("InitConfiguration", {})
        self.cluster = docs.get("ClusterConfiguration", {})
        self.kubelet = docs.get("KubeletConfiguration", {})
        self.proxy = docs.get("KubeProxyConfiguration")
        reg = self.init.get("nodeRegistration", {})
        self.name = reg.get("name") or socket.gethostname()
        self.ip = self.init.get("localAPIEndpoint", {}).get("advertiseAddress")
        self.port = self.init.get("localAPIEndpoint", {}).get("bindPort", 6443)
        self.endpoint = self.cluster.get("controlPlaneEndpoint") or "%s:%s" % (self.ip, self.port)
        self.cname = self.cluster.get("clusterName", "kubernetes")
        self.alg = self.cluster.get("encryptionAlgorithm", "RSA-2048")
        self.external = (self.cluster.get("etcd") or {}).get("external")
        self.data_dir = ((self.cluster.get("etcd") or {}).get("local") or {}).get("dataDir", "/var/lib/etcd")

    def api(self, conf=K + "/admin.conf"):
        return kube.Client(conf)

    def certs(self):
        net = self.cluster.get("networking", {})
        svc = ipaddress.ip_network(net.get("serviceSubnet", "10.96.0.0/12").split(",")[0], strict=False)
        domain = net.get("dnsDomain", "cluster.local")
        host = self.endpoint.rsplit(":", 1)[0]
        extra = [host] + list((self.cluster.get("apiServer") or {}).get("certSANs") or [])

        def san(x):
            try:
                ipaddress.ip_address(x)
                return "IP:" + x
            except ValueError:
                return "DNS:" + x
        sans = ["DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc." + domain,
                "DNS:" + self.name, "IP:%s" % next(svc.hosts()), "IP:" + self.ip] + [san(x) for x in extra]
        pki.issue("apiserver", "kube-apiserver", [], "ca", ["serverAuth"], sorted(set(sans)), self.alg)
        pki.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["kubeadm:cluster-admins"], "ca", ["clientAuth"], [], self.alg)
        pki.issue("front-proxy-client", "front-proxy-client", [], "front-proxy-ca", ["clientAuth"], [], self.alg)
        if not self.external:
            etcd_sans = ["DNS:localhost", "DNS:" + self.name, "IP:127.0.0.1", "IP:0:0:0:0:0:0:0:1", "IP:" + self.ip]
            pki.issue("etcd/server", self.name, [], "etcd/ca", ["serverAuth", "clientAuth"], etcd_sans, self.alg)
            pki.issue("etcd/peer", self.name, [], "etcd/ca", ["serverAuth", "clientAuth"], etcd_sans, self.alg)
            pki.issue("etcd/healthcheck-client", "kube-etcd-healthcheck-client", [], "etcd/ca", ["clientAuth"], [], self.alg)
            pki.issue("apiserver-etcd-client", "kube-apiserver-etcd-client", [], "etcd/ca", ["clientAuth"], [], self.alg)

    def kubeconfigs(self, joining=False):
        """A joining control plane gets admin.conf and the components' (kubeadm join's kubeconfig
        phase); kubelet.conf comes from its TLS bootstrap and super-admin.conf is init's alone."""
        server = "https://" + self.endpoint
        local = "https://%s:%s" % (self.ip, self.port)
        pki.client_kubeconfig(K + "/admin.conf", self.cname, server, "kubernetes-admin", ["kubeadm:cluster-admins"], self.alg)
        if not joining:
            pki.client_kubeconfig(K + "/super-admin.conf", self.cname, server, "kubernetes-super-admin", ["system:masters"], self.alg)
            pki.client_kubeconfig(K + "/kubelet.conf", self.cname, server, "system:node:" + self.name, ["system:nodes"], self.alg)
        pki.client_kubeconfig(K + "/controller-manager.conf", self.cname, local, "system:kube-controller-manager", [], self.alg)
        pki.client_kubeconfig(K + "/scheduler.conf", self.cname, local, "system:kube-scheduler", [], self.alg)

    def pod(self, name, command, annotations=None):
        """A static pod as kubeadm labels it (component, tier): kubeadm finds the etcd members
        through these labels and the client-URL annotation on their mirror Pods."""
        repo = self.cluster.get("imageRepository", "registry.k8s.io")
        image = {"etcd": "etcd:3.6.6-0"}.get(name, "%s:%s" % (name, self.cluster.get("kubernetesVersion", "v" + VERSION)))
        meta = {"name": name, "namespace": "kube-system", "labels": {"component": name, "tier": "control-plane"}}
        if annotations:
            meta["annotations"] = annotations
        return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                               "spec": {"hostNetwork": True, "containers": [{"name": name, "image": "%s/%s" % (repo, image), "command": command}]}})

    def etcd_manifest(self, initial_cluster, state):
        peer = "https://%s:2380" % self.ip
        client = "https://%s:2379" % self.ip
        cmd = ["etcd", "--name=" + self.name, "--data-dir=" + self.data_dir,
               "--listen-client-urls=https://127.0.0.1:2379," + client, "--advertise-client-urls=" + client,
               "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer, "--initial-cluster=" + initial_cluster,
               "--initial-cluster-state=" + state, "--client-cert-auth=true", "--peer-client-cert-auth=true", "--snapshot-count=10000",
               "--cert-file=%s/etcd/server.crt" % PKI, "--key-file=%s/etcd/server.key" % PKI, "--trusted-ca-file=%s/etcd/ca.crt" % PKI,
               "--peer-cert-file=%s/etcd/peer.crt" % PKI, "--peer-key-file=%s/etcd/peer.key" % PKI, "--peer-trusted-ca-file=%s/etcd/ca.crt" % PKI]
        write(MANIFESTS + "/etcd.yaml", self.pod("etcd", cmd, {"kubeadm.kubernetes.io/etcd.advertise-client-urls": client}), 0o600)

    def etcd_local(self):
        if not self.external:
            self.etcd_manifest("%s=https://%s:2380" % (self.name, self.ip), "new")

    def control_plane(self):
        net = self.cluster.get("networking", {})
        etcd = ",".join(self.external["endpoints"]) if self.external else "https://127.0.0.1:2379"
        ec = self.external or {}
        cmd = ["kube-apiserver", "--advertise-address=" + self.ip, "--bind-address=0.0.0.0", "--secure-port=%s" % self.port,
               "--client-ca-file=%s/ca.crt" % PKI, "--tls-cert-file=%s/apiserver.crt" % PKI, "--tls-private-key-file=%s/apiserver.key" % PKI,
               "--etcd-servers=" + etcd, "--etcd-cafile=" + ec.get("caFile", PKI + "/etcd/ca.crt"),
               "--etcd-certfile=" + ec.get("certFile", PKI + "/apiserver-etcd-client.crt"), "--etcd-keyfile=" + ec.get("keyFile", PKI + "/apiserver-etcd-client.key"),
               "--service-cluster-ip-range=" + net.get("serviceSubnet", "10.96.0.0/12"), "--enable-bootstrap-token-auth=true",
               "--service-account-key-file=%s/sa.pub" % PKI, "--service-account-signing-key-file=%s/sa.key" % PKI, "--authorization-mode=Node,RBAC"]
        write(MANIFESTS + "/kube-apiserver.yaml", self.pod("kube-apiserver", cmd), 0o600)
        write(MANIFESTS + "/kube-controller-manager.yaml", self.pod("kube-controller-manager", ["kube-controller-manager", "--kubeconfig=%s/controller-manager.conf" % K]), 0o600)
        write(MANIFESTS + "/kube-scheduler.yaml", self.pod("kube-scheduler", ["kube-scheduler", "--kubeconfig=%s/scheduler.conf" % K]), 0o600)

    def kubelet_start(self):
        cfg = dict(self.kubelet)
        cfg.setdefault("staticPodPath", MANIFESTS)
        write("/var/lib/kubelet/config.yaml", yaml.safe_dump(cfg))
        extra = " ".join("--%s=%s" % (a["name"], a["value"]) for a in self.init.get("nodeRegistration", {}).get("kubeletExtraArgs") or [])
        write("/var/lib/kubelet/kubeadm-flags.env", 'KUBELET_KUBEADM_ARGS="%s"\n' % extra)
        subprocess.run(["systemctl", "restart", "kubelet"], check=True)

    def wait_api(self, seconds=240):
        local = kube.Client(server="https://127.0.0.1:%s" % self.port, timeout=30, retry=0)
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                if local.request("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(2)
        fail("kubeadm", "[wait-control-plane] the API server did not become ready within %d s" % seconds)

    def put(self, api, kind, name, ns, obj):
        obj = {"apiVersion": kube.KINDS[kind][0].replace("/apis/", "").replace("/api/", ""), "kind": kind,
               "metadata": {"name": name, **({"namespace": ns} if ns else {})}, **obj}
        api.send("PATCH", kube.path_of(kind, name, ns), obj, "application/apply-patch+yaml")

    def upload_config(self):
        api = self.api()
        self.put(api, "ConfigMap", "kubeadm-config", "kube-system", {"data": {"ClusterConfiguration": yaml.safe_dump(self.cluster)}})
        self.put(api, "ConfigMap", "kubelet-config", "kube-system", {"data": {"kubelet": yaml.safe_dump(self.kubelet)}})

    def mark_control_plane(self):
        api = self.api()
        deadline = time.time() + 120
        while api.get("/api/v1/nodes/" + self.name) is None:
            if time.time() > deadline:
                fail("kubeadm", "[mark-control-plane] the kubelet did not register node %s" % self.name)
            time.sleep(2)
        taints = self.init.get("nodeRegistration", {}).get("taints")
        patch = {"metadata": {"labels": {"node-role.kubernetes.io/control-plane": "", "node.kubernetes.io/exclude-from-external-load-balancers": ""}},
                 "spec": {"taints": taints if taints is not None else [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}
        api.send("PATCH", "/api/v1/nodes/" + self.name, patch, "application/merge-patch+json")

    def bootstrap_token(self):
        api = self.api()
        info = pki.kubeconfig("", "https://" + self.endpoint, "")
        info_doc = yaml.safe_load(info)
        info_doc["contexts"], info_doc["users"], info_doc["current-context"] = [], [], ""
        info_text = yaml.safe_dump(info_doc, sort_keys=False)
        data = {"kubeconfig": info_text}
        for t in self.init.get("bootstrapTokens") or []:
            tid, secret = t["token"].split(".")
            usages = t.get("usages") or ["signing", "authentication"]
            sd = {"token-id": tid, "token-secret": secret, "description": t.get("description", ""),
                  "usage-bootstrap-authentication": str("authentication" in usages).lower(), "usage-bootstrap-signing": str("signing" in usages).lower(),
                  "auth-extra-groups": ",".join(t.get("groups") or [])}
            if t.get("expires"):
                sd["expiration"] = str(t["expires"])
            self.put(api, "Secret", "bootstrap-token-" + tid, "kube-system",
                     {"type": "bootstrap.kubernetes.io/token", "data": {k: pki.b64(v) for k, v in sd.items()}})
            if "signing" in usages:
                data["jws-kubeconfig-" + tid] = jws(info_text, tid, secret)
        self.put(api, "ConfigMap", "cluster-info", "kube-public", {"data": data})

    def kubelet_finalize(self):
        conf = yaml.safe_load(open(K + "/kubelet.conf"))
        user = conf["users"][0]["user"]
        if "client-certificate-data" in user:
            pem = base64.b64decode(user["client-certificate-data"]) + base64.b64decode(user["client-key-data"])
            os.makedirs("/var/lib/kubelet/pki", exist_ok=True)
            fd = os.open("/var/lib/kubelet/pki/kubelet-client-current.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            current = "/var/lib/kubelet/pki/kubelet-client-current.pem"
            conf["users"][0]["user"] = {"client-certificate": current, "client-key": current}
            write(K + "/kubelet.conf", yaml.safe_dump(conf, sort_keys=False), 0o600)

    def addons(self):
        api = self.api()
        repo = self.cluster.get("imageRepository", "registry.k8s.io")
        self.put(api, "Deployment", "coredns", "kube-system", {"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "coredns", "image": repo + "/coredns/coredns:v1.13.1"}]}}}})
        if self.proxy is not None and not (self.cluster.get("proxy") or {}).get("disabled"):
            self.put(api, "ConfigMap", "kube-proxy", "kube-system", {"data": {"config.conf": yaml.safe_dump(self.proxy)}})
            self.put(api, "DaemonSet", "kube-proxy", "kube-system", {"spec": {"template": {"spec": {"containers": [{"name": "kube-proxy", "image": "%s/kube-proxy:%s" % (repo, self.cluster.get("kubernetesVersion"))}]}}}})

    PHASES = [("certs", "certs"), ("kubeconfig", "kubeconfigs"), ("etcd", "etcd_local"), ("control-plane", "control_plane"),
              ("kubelet-start", "kubelet_start"), ("wait-control-plane", "wait_api"), ("upload-config", "upload_config"),
              ("mark-control-plane", "mark_control_plane"), ("bootstrap-token", "bootstrap_token"),
              ("kubelet-finalize", "kubelet_finalize"), ("addon", "addons")]

    def preflight(self):
        problems = []
        for f in ["kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml", "etcd.yaml"]:
            if os.path.exists(os.path.join(MANIFESTS, f)):
                problems.append("[ERROR FileAvailable--etc-kubernetes-manifests-%s]: %s/%s already exists" % (f.replace(".", "-").replace("-yaml", ".yaml"), MANIFESTS, f))
        if not self.external and os.path.isdir(self.data_dir) and os.listdir(self.data_dir):
            problems.append("[ERROR DirAvailable--var-lib-etcd]: %s is not empty" % self.data_dir)
        missing = [f for f in SHARED + ([] if self.external else ["etcd/ca.crt", "etcd/ca.key"]) if not os.path.isfile(os.path.join(PKI, f))]
        if missing:
            problems.append("[certs] missing pre-seeded files: %s" % ", ".join(os.path.join(PKI, f) for f in missing))
        if problems:
            fail("kubeadm", "[preflight] Some fatal errors occurred:\n" + "\n".join(problems))


def jws(payload, kid, secret):
    """A detached JWS (RFC 7515) with HS256 keyed by the token secret, as kubeadm signs cluster-info."""
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    header = enc(json.dumps({"alg": "HS256", "kid": kid}, separators=(",", ":")).encode())
    body = enc(payload.encode())
    sig = enc(hmac.new(secret.encode(), ("%s.%s" % (header, body)).encode(), hashlib.sha256).digest())
    return "%s..%s" % (header, sig)
