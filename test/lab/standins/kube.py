"""A client of the Kubernetes API for the lab's stand-ins: a kubeconfig's current context (server,
CA, client certificate or token, inline or in files), JSON over HTTPS."""
import base64
import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.request

import yaml


class _Files:
    """Inline kubeconfig data as files for the ssl module, removed once it has read them."""

    def __init__(self):
        self.temps = []

    def of(self, data_b64, path):
        if path:
            return path
        f = tempfile.NamedTemporaryFile(delete=False, mode="wb")
        os.chmod(f.name, 0o600)
        f.write(base64.b64decode(data_b64))
        f.close()
        self.temps.append(f.name)
        return f.name

    def close(self):
        for t in self.temps:
            os.remove(t)


class Client:
    # kubeadm's own API calls wait up to timeouts.kubernetesAPICall (v1beta4 default 1m0s): an API
    # server busy signing four nodes' CSRs under emulation answers in seconds, not milliseconds.
    def __init__(self, kubeconfig=None, server=None, ca_pem=None, token=None, timeout=60, retry=120):
        self.timeout = timeout
        self.retry = retry
        self.token = token
        if kubeconfig:
            cfg = yaml.safe_load(open(kubeconfig, encoding="utf-8"))
            ctx_name = cfg.get("current-context")
            ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name) if ctx_name else cfg["contexts"][0]["context"]
            cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
            user = next((u["user"] for u in cfg.get("users", []) if u["name"] == ctx.get("user")), {})
            self.server = cluster["server"]
            files = _Files()
            try:
                self.ctx = ssl.create_default_context(cafile=files.of(cluster.get("certificate-authority-data"), cluster.get("certificate-authority")))
                if user.get("client-certificate-data") or user.get("client-certificate"):
                    self.ctx.load_cert_chain(files.of(user.get("client-certificate-data"), user.get("client-certificate")),
                                             files.of(user.get("client-key-data"), user.get("client-key")))
            finally:
                files.close()
            self.token = user.get("token") or token
        else:
            self.server = server
            if ca_pem:
                self.ctx = ssl.create_default_context(cadata=ca_pem)
            else:
                self.ctx = ssl.create_default_context()
                self.ctx.check_hostname = False
                self.ctx.verify_mode = ssl.CERT_NONE

    def request(self, method, path, body=None, content_type="application/json"):
        """One request; a connection refused, reset or timed out is tried again for up to `retry`
        seconds, as kubeadm's API calls are (apiclient's polls): a VIP moving, an API server busy."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        deadline = time.time() + self.retry
        while True:
            req = urllib.request.Request(self.server.rstrip("/") + path, data=data, method=method)
            if data is not None:
                req.add_header("Content-Type", content_type)
            if self.token:
                req.add_header("Authorization", "Bearer " + self.token)
            try:
                with urllib.request.urlopen(req, context=self.ctx, timeout=self.timeout) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()
            except OSError:
                if time.time() + 2 > deadline:
                    raise
                time.sleep(2)

    def get(self, path):
        code, body = self.request("GET", path)
        if code == 404:
            return None
        if code != 200:
            raise RuntimeError("GET %s: %d %s" % (path, code, body[:300].decode(errors="replace")))
        return json.loads(body)

    def send(self, method, path, obj, content_type="application/json"):
        code, body = self.request(method, path, obj, content_type)
        if code >= 300:
            raise RuntimeError("%s %s: %d %s" % (method, path, code, body[:300].decode(errors="replace")))
        return json.loads(body) if body else None


# Kinds the stand-ins know: kind -> (group/version path prefix, plural, namespaced).
KINDS = {
    "ConfigMap": ("/api/v1", "configmaps", True), "Secret": ("/api/v1", "secrets", True), "Node": ("/api/v1", "nodes", False),
    "Namespace": ("/api/v1", "namespaces", False), "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Service": ("/api/v1", "services", True), "Pod": ("/api/v1", "pods", True),
    "Deployment": ("/apis/apps/v1", "deployments", True), "DaemonSet": ("/apis/apps/v1", "daemonsets", True),
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    "Installation": ("/apis/operator.tigera.io/v1", "installations", False),
    "CertificateSigningRequest": ("/apis/certificates.k8s.io/v1", "certificatesigningrequests", False),
}
ALIASES = {"configmap": "ConfigMap", "cm": "ConfigMap", "secret": "Secret", "node": "Node", "no": "Node", "namespace": "Namespace",
           "ns": "Namespace", "deployment": "Deployment", "deploy": "Deployment", "daemonset": "DaemonSet", "ds": "DaemonSet",
           "crd": "CustomResourceDefinition", "customresourcedefinition": "CustomResourceDefinition", "installation": "Installation",
           "serviceaccount": "ServiceAccount", "service": "Service", "pod": "Pod", "po": "Pod", "csr": "CertificateSigningRequest"}


def kind_of(word):
    w = word.lower().split(".")[0]
    for cand in (w, w[:-1] if w.endswith("s") else w, w[:-2] if w.endswith("es") else w):
        if cand in ALIASES:
            return ALIASES[cand]
    raise KeyError(word)


def path_of(kind, name=None, namespace=None):
    prefix, plural, namespaced = KINDS[kind]
    p = prefix + ("/namespaces/%s" % (namespace or "default") if namespaced else "") + "/" + plural
    return p + ("/" + name if name else "")
