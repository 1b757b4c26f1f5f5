"""kubeadm join and reset for the lab's kubeadm stand-in (test/lab; never in an image built for a
user). Token discovery as kubeadm does it (cmd/kubeadm/app/discovery/token): cluster-info fetched
without trusting the server, its JWS checked with the token, the CA pinned by its hash, then the
API trusted through that CA; the kubelet's TLS bootstrap with the token (a CSR the API signs). A
control plane's join (cmd/kubeadm/app/cmd/phases/join) also needs the cluster's stable
controlPlaneEndpoint and the shared certificates pre-seeded, makes its own certificates,
kubeconfigs and static pods, and joins etcd as kubeadm does: a learner added through the members
it finds on the etcd mirror Pods, its static pod with --initial-cluster-state=existing, promoted
once it has caught up (phases/etcd/local.go, util/etcd/etcd.go)."""
import base64
import os
import re
import socket
import subprocess
import sys
import time

from standin import fail, record
import kube
import pki
import yaml
from kubeadm_init import K, MANIFESTS, PKI, Init, jws, write

ETCD_ANNOTATION = "kubeadm.kubernetes.io/etcd.advertise-client-urls"


def duration(text):
    """A Go duration of hours, minutes and seconds ("5m0s", "90s") in seconds."""
    total, num = 0.0, ""
    for ch in str(text):
        if ch.isdigit() or ch == ".":
            num += ch
        else:
            total += float(num or 0) * {"h": 3600, "m": 60, "s": 1}.get(ch, 0)
            num = ""
    return total + float(num or 0)


def discover(j):
    """cluster-info from the endpoint, its signature and CA checked: (the info kubeconfig, the CA PEM, its hash)."""
    bt = j["discovery"]["bootstrapToken"]
    tid, secret = bt["token"].split(".")
    ep = bt["apiServerEndpoint"]
    # kubeadm retries discovery until timeouts.discovery (5 minutes by default): the API may answer
    # before init has published cluster-info or the token's signature.
    deadline = time.time() + duration((j.get("timeouts") or {}).get("discovery", "5m"))
    while True:
        try:
            ci = kube.Client(server="https://" + ep, timeout=30, retry=0).get("/api/v1/namespaces/kube-public/configmaps/cluster-info")
        except (OSError, RuntimeError):
            ci = None
        data = (ci or {}).get("data", {})
        if data.get("jws-kubeconfig-" + tid) == jws(data.get("kubeconfig", ""), tid, secret):
            break
        if time.time() > deadline:
            fail("kubeadm", "[discovery] no cluster-info at https://%s signed with token %s" % (ep, tid) if ci is None or "jws-kubeconfig-" + tid not in data
                 else "[discovery] cluster-info at https://%s is not signed with token %s" % (ep, tid))
        time.sleep(5)
    info = yaml.safe_load(data["kubeconfig"])
    ca_pem = base64.b64decode(info["clusters"][0]["cluster"]["certificate-authority-data"])
    pin = pki.ca_hash(ca_pem)
    if not bt.get("unsafeSkipCAVerification") and pin not in (bt.get("caCertHashes") or []):
        fail("kubeadm", "[discovery] the cluster CA's public key hash %s matches none of caCertHashes" % pin)
    return info, ca_pem, pin


def tls_bootstrap(j, api, info, kubelet_doc, name):
    """The kubelet-start phase: its configuration from the cluster, a client certificate for its CSR, kubelet.conf."""
    kubelet_cm = api.get("/api/v1/namespaces/kube-system/configmaps/kubelet-config")
    cfg = yaml.safe_load(kubelet_cm["data"]["kubelet"]) if kubelet_cm else (kubelet_doc or {})
    cfg.setdefault("staticPodPath", MANIFESTS)
    write("/var/lib/kubelet/config.yaml", yaml.safe_dump(cfg))
    extra = " ".join("--%s=%s" % (a["name"], a["value"]) for a in (j.get("nodeRegistration") or {}).get("kubeletExtraArgs") or [])
    write("/var/lib/kubelet/kubeadm-flags.env", 'KUBELET_KUBEADM_ARGS="%s"\n' % extra)
    os.makedirs("/var/lib/kubelet/pki", exist_ok=True)
    key = "/var/lib/kubelet/pki/kubelet-client.key"
    pki.new_key(key, "RSA-2048")
    csr = subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", "/O=system:nodes/CN=system:node:" + name], check=True, capture_output=True).stdout
    obj = api.send("POST", kube.path_of("CertificateSigningRequest"), {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"generateName": "csr-"},
        "spec": {"request": pki.b64(csr), "signerName": "kubernetes.io/kube-apiserver-client-kubelet", "usages": ["digital signature", "client auth"]}})
    cert = base64.b64decode(obj.get("status", {}).get("certificate") or fail("kubeadm", "[kubelet-start] the CSR was not signed"))
    current = "/var/lib/kubelet/pki/kubelet-client-current.pem"
    fd = os.open(current, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(cert + open(key, "rb").read())
    os.remove(key)
    conf = dict(info)
    cluster = conf["clusters"][0]["name"] or "kubernetes"
    conf["clusters"][0]["name"] = cluster
    conf.update({"current-context": "default", "contexts": [{"name": "default", "context": {"cluster": cluster, "user": "default"}}],
                 "users": [{"name": "default", "user": {"client-certificate": current, "client-key": current}}]})
    write(K + "/kubelet.conf", yaml.safe_dump(conf, sort_keys=False), 0o600)
    subprocess.run(["systemctl", "restart", "kubelet"], check=True)
    node_api = kube.Client(K + "/kubelet.conf")
    deadline = time.time() + 120
    while node_api.get("/api/v1/nodes/" + name) is None:
        if time.time() > deadline:
            fail("kubeadm", "[kubelet-start] the kubelet did not register node %s" % name)
        time.sleep(2)


def join(j, kubelet_doc):
    if os.path.exists(K + "/kubelet.conf"):
        fail("kubeadm", "[preflight] [ERROR FileAvailable--etc-kubernetes-kubelet.conf]: %s/kubelet.conf already exists" % K)
    name = (j.get("nodeRegistration") or {}).get("name") or socket.gethostname()
    info, ca_pem, pin = discover(j)
    bt = j["discovery"]["bootstrapToken"]
    api = kube.Client(server="https://" + bt["apiServerEndpoint"], ca_pem=ca_pem.decode(), token=bt["token"])
    cp, initial = None, None
    if j.get("controlPlane") is not None:
        cp = prepare_control_plane(j, api, name)
    tls_bootstrap(j, api, info, kubelet_doc, name)
    if cp:
        initial = join_etcd(cp)
        cp.wait_api()
        cp.mark_control_plane()
        print("This node has joined the cluster and a new control plane instance was created.")
    else:
        print("This node has joined the cluster.")
    record("kubeadm", "ok", discovered=pin, part="control-plane" if cp else "worker", etcd_initial_cluster=initial)


def prepare_control_plane(j, api, name):
    """Preflight and control-plane-prepare: kubeadm-config's ClusterConfiguration read with the token,
    a stable controlPlaneEndpoint required, the shared certificates required (no certificateKey:
    they are pre-seeded), then this node's certificates, kubeconfigs and static pods."""
    cm = api.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config") or fail("kubeadm", "[preflight] no kubeadm-config ConfigMap in kube-system")
    cluster = yaml.safe_load(cm["data"]["ClusterConfiguration"])
    if not cluster.get("controlPlaneEndpoint"):
        fail("kubeadm", "[preflight] unable to add a new control plane instance to a cluster that doesn't have a stable controlPlaneEndpoint address")
    if j["controlPlane"].get("certificateKey"):
        fail("kubeadm", "[download-certs] the lab's stand-in takes the shared certificates pre-seeded, not from the kubeadm-certs Secret")
    local = j["controlPlane"].get("localAPIEndpoint") or {}
    cp = Init({"InitConfiguration": {"nodeRegistration": {**(j.get("nodeRegistration") or {}), "name": name}, "localAPIEndpoint": local},
               "ClusterConfiguration": cluster})
    if not cp.ip:
        fail("kubeadm", "[preflight] the lab's stand-in needs controlPlane.localAPIEndpoint.advertiseAddress")
    cp.preflight()
    cp.certs()
    cp.kubeconfigs(joining=True)
    cp.control_plane()
    return cp


def etcdctl(endpoints, *args):
    env = dict(os.environ, ETCDCTL_API="3")
    return subprocess.run(["etcdctl", "--endpoints=" + ",".join(endpoints), "--cacert=%s/etcd/ca.crt" % PKI,
                           "--cert=%s/etcd/healthcheck-client.crt" % PKI, "--key=%s/etcd/healthcheck-client.key" % PKI,
                           "--command-timeout=5s", *args], capture_output=True, text=True, env=env)


def etcd_endpoints(api):
    """The client URLs on the etcd mirror Pods' annotation (kubeadm's getRawEtcdEndpointsFromPodAnnotation), retried."""
    deadline = time.time() + 120
    while True:
        pods = (api.get("/api/v1/namespaces/kube-system/pods") or {}).get("items", [])
        found = sorted({p["metadata"].get("annotations", {}).get(ETCD_ANNOTATION) for p in pods
                        if p["metadata"].get("labels", {}).get("component") == "etcd"} - {None})
        if found:
            return found
        if time.time() > deadline:
            fail("kubeadm", "[etcd] could not retrieve the list of etcd endpoints: no etcd Pod in kube-system carries %s" % ETCD_ANNOTATION)
        time.sleep(3)


def members(endpoints):
    """(id, status, name, peer URL, is learner) of each member, from `member list -w simple`."""
    r = etcdctl(endpoints, "member", "list", "-w", "simple")
    if r.returncode != 0:
        return None
    return [tuple(x.strip() for x in line.split(", "))[:6] for line in r.stdout.splitlines() if line.strip()]


def join_etcd(cp):
    """Add this member as a learner (again, when a member with its peer URL exists unstarted), write
    its static pod, promote it once it has caught up. kubeadm retries each with a backoff: etcd
    refuses a second learner ("too many learner members") and a promotion before the learner is in sync."""
    api = cp.api()
    endpoints = [e for e in etcd_endpoints(api) if e != "https://%s:2379" % cp.ip]
    peer = "https://%s:2380" % cp.ip
    deadline = time.time() + 600
    while True:
        listed = members(endpoints) or []
        mine = next((m for m in listed if m[3] == peer), None)
        if mine:
            break
        r = etcdctl(endpoints, "member", "add", cp.name, "--peer-urls=" + peer, "--learner")
        if r.returncode == 0:
            continue
        if time.time() > deadline:
            fail("kubeadm", "[etcd] could not add this node as an etcd learner: %s" % r.stderr.strip())
        print("[etcd] adding the learner again in 5 s: %s" % r.stderr.strip()[-200:], file=sys.stderr)
        time.sleep(5)
    initial = ",".join("%s=%s" % (m[2], m[3]) for m in listed if m[1] == "started" and m[3] != peer) + ",%s=%s" % (cp.name, peer)
    cp.etcd_manifest(initial.lstrip(","), "existing")
    while True:
        listed = members(endpoints) or []
        mine = next((m for m in listed if m[3] == peer), None)
        if mine and mine[1] == "started" and mine[5] == "false":
            break
        if mine and mine[1] == "started":
            etcdctl(endpoints, "member", "promote", mine[0])
        if time.time() > deadline:
            fail("kubeadm", "[etcd] this node's etcd member was not promoted to a voter: %s" % (mine,))
        time.sleep(3)
    return initial.lstrip(",")


def reset():
    """kubeadm reset -f: a control plane's etcd member removed from the cluster while others
    remain, the kubelet stopped, static pods, kubeconfigs, certificates (/etc/kubernetes/pki), the
    kubelet's state and etcd's data deleted; kubeadm reset's own list (cmd/kubeadm/app/cmd/phases/reset)."""
    import glob
    import shutil
    remove_member()
    subprocess.run(["systemctl", "stop", "kubelet"], check=False)
    subprocess.run(["pkill", "-f", "/usr/lib/imgforge-standins/apiserver.py"], check=False)
    subprocess.run(["pkill", "-x", "etcd"], check=False)
    for path in glob.glob(MANIFESTS + "/*") + glob.glob(K + "/*.conf") + [K + "/pki", "/var/lib/kubelet"]:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)
    if os.path.isdir("/var/lib/etcd"):
        for entry in os.listdir("/var/lib/etcd"):
            shutil.rmtree(os.path.join("/var/lib/etcd", entry), ignore_errors=True)
    print("[reset] done")
    record("kubeadm", "ok")


def remove_member():
    """This node's member, found by its peer URL in its etcd manifest, removed through the other members."""
    try:
        text = open(MANIFESTS + "/etcd.yaml", encoding="utf-8").read()
    except OSError:
        return
    peer = re.search(r"--initial-advertise-peer-urls=(\S+)", text)
    cluster = re.search(r"--initial-cluster=(\S+)", text)
    if not peer or not cluster or not os.path.exists(PKI + "/etcd/healthcheck-client.crt"):
        return
    others = [u.split("=", 1)[1].replace(":2380", ":2379") for u in cluster.group(1).split(",") if not u.endswith("=" + peer.group(1))]
    mine = next((m for m in members(others) or [] if m[3] == peer.group(1)), None)
    if mine:
        r = etcdctl(others, "member", "remove", mine[0])
        print("[reset] removing etcd member %s: %s" % (mine[0], "done" if r.returncode == 0 else r.stderr.strip()))
