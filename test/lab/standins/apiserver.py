#!/usr/bin/python3
"""kube-apiserver stand-in for the imgforge lab, run by the kubelet stand-in from the static pod
manifest kubeadm wrote, with that manifest's flags. It serves HTTPS on --secure-port with the
certificate kubeadm made (signed by the cluster CA), authenticates clients as kube-apiserver does
(a certificate of --client-ca-file: CN the user, O the groups; a bootstrap token as the bearer,
checked against its Secret in kube-system; anonymous for health and cluster-info), and keeps every
object in the real etcd (--etcd-servers, its JSON gateway /v3/kv/*) under /registry/..., so every
control plane serves the same cluster. The controllers it stands in for act at once: a CRD is
Established when created, a kubelet's client CSR from a bootstrap token is signed with the CA."""
import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, "/usr/lib/imgforge-standins")
from standin import record  # noqa: E402
import yaml  # noqa: E402


def flags(argv):
    out = {}
    for a in argv:
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            out[k] = v
    return out


F = flags(sys.argv[1:])
ETCD = F.get("etcd-servers", "https://127.0.0.1:2379").split(",")
ETCD_CTX = ssl.create_default_context(cafile=F.get("etcd-cafile"))
ETCD_CTX.load_cert_chain(F.get("etcd-certfile"), F.get("etcd-keyfile"))
ADMINS = {"system:masters", "kubeadm:cluster-admins"}


def b64(s):
    return base64.b64encode(s.encode()).decode()


def etcd(op, body):
    last = None
    for server in ETCD:
        try:
            req = urllib.request.Request(server + "/v3/kv/" + op, data=json.dumps(body).encode(), method="POST")
            with urllib.request.urlopen(req, context=ETCD_CTX, timeout=10) as r:
                return json.load(r)
        except Exception as e:  # noqa: BLE001 - any member may be down; try the next
            last = e
    raise RuntimeError("etcd: %s" % last)


def prefix_end(p):
    b = bytearray(p.encode())
    b[-1] += 1
    return base64.b64encode(bytes(b)).decode()


def get(key, revision=False):
    kvs = etcd("range", {"key": b64(key)}).get("kvs") or []
    obj = json.loads(base64.b64decode(kvs[0]["value"])) if kvs else None
    return (obj, int(kvs[0]["mod_revision"]) if kvs else 0) if revision else obj


def put_if(key, obj, revision):
    """Write only if the key is still at the revision it was read at (0: still absent), as the API
    server's GuaranteedUpdate does: two writers of one object (a kubelet's status, kubeadm's label)
    must not undo each other. The object's new resourceVersion (etcd's revision), or 0 when another
    write came first."""
    compare = {"key": b64(key), "result": "EQUAL", "target": "MOD", "mod_revision": str(revision)} if revision \
        else {"key": b64(key), "result": "EQUAL", "target": "CREATE", "create_revision": "0"}
    put = {"request_put": {"key": b64(key), "value": b64(json.dumps(obj))}}
    r = etcd("txn", {"compare": [compare], "success": [put]})
    return int(r["header"]["revision"]) if r.get("succeeded") else 0


def versioned(obj, revision):
    """The object as the API serves it: metadata.resourceVersion is the etcd revision it was written at."""
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


def list_(prefix):
    kvs = etcd("range", {"key": b64(prefix), "range_end": prefix_end(prefix)}).get("kvs") or []
    return [versioned(json.loads(base64.b64decode(kv["value"])), kv["mod_revision"]) for kv in kvs]


def delete(key):
    return int(etcd("deleterange", {"key": b64(key)}).get("deleted", 0))


def parse_path(path):
    """/api/v1/... or /apis/G/V/...: (group, version, namespace, plural, name) or None."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    ns = None
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 2:
        return None
    return group, version, ns, rest[0], rest[1] if len(rest) > 1 else None


def key_of(group, plural, ns, name=None):
    return "/registry/%s/%s/%s/%s" % (group or "core", plural, ns or "_", name or "")


def sign_csr(obj):
    """The kube-controller-manager's part: a kubelet client certificate for a bootstrapping node."""
    req = base64.b64decode(obj["spec"]["request"])
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "csr"), "wb").write(req)
        open(os.path.join(d, "ext"), "w").write("keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
        out = subprocess.run(["openssl", "x509", "-req", "-in", os.path.join(d, "csr"), "-CA", "/etc/kubernetes/pki/ca.crt",
                              "-CAkey", "/etc/kubernetes/pki/ca.key", "-CAcreateserial", "-days", "365", "-extfile", os.path.join(d, "ext")],
                             capture_output=True, check=True, cwd=d).stdout
    obj.setdefault("status", {})["certificate"] = base64.b64encode(out).decode()
    obj["status"]["conditions"] = [{"type": "Approved", "status": "True", "reason": "AutoApproved"}]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection is closed, its thread ended

    def log_message(self, fmt, *args):
        sys.stderr.write("apiserver: " + fmt % args + "\n")

    def who(self):
        cert = self.connection.getpeercert()
        if cert:
            subject = dict(x[0] for x in cert.get("subject", ()))
            groups = [v for rdn in cert.get("subject", ()) for (k, v) in rdn if k == "organizationName"]
            return subject.get("commonName", ""), set(groups)
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and "." in auth:
            tid, secret = auth[7:].split(".", 1)
            s = get(key_of("", "secrets", "kube-system", "bootstrap-token-" + tid))
            data = (s or {}).get("data", {})
            if data and base64.b64decode(data.get("token-secret", "")).decode() == secret \
                    and base64.b64decode(data.get("usage-bootstrap-authentication", "")).decode() == "true":
                return "system:bootstrap:" + tid, {"system:bootstrappers"}
            return None, None
        return "system:anonymous", {"system:unauthenticated"}

    def send(self, code, obj=None, text=None):
        body = (text if text is not None else json.dumps(obj if obj is not None else {})).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if text is not None else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, reason, message):
        self.send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code})

    def allowed(self, user, groups, verb, p):
        group, _, ns, plural, name = p
        if groups & ADMINS:
            return True
        if verb == "get" and ns == "kube-public" and plural == "configmaps" and name == "cluster-info":
            return True
        if "system:bootstrappers" in groups:
            return (plural == "certificatesigningrequests" and verb in ("create", "get")) or \
                   (ns == "kube-system" and plural == "configmaps" and verb == "get" and name in ("kubeadm-config", "kubelet-config"))
        if "system:nodes" in groups:
            # The node authorizer lets a kubelet manage its own mirror Pods (list them too, here).
            return plural in ("nodes", "leases", "pods") or (verb == "get" and plural == "configmaps")
        return False

    def handle_any(self, verb):
        path = self.path.split("?")[0]
        if path in ("/readyz", "/healthz", "/livez"):
            try:
                etcd("range", {"key": b64("/registry/health")})
                return self.send(200, text="ok")
            except Exception as e:  # noqa: BLE001
                return self.send(500, text="etcd: %s" % e)
        if path == "/version":
            return self.send(200, {"gitVersion": "v" + os.environ.get("IMGFORGE_STANDIN_VERSION", "@VERSION@")})
        p = parse_path(path)
        if not p:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        user, groups = self.who()
        if user is None:
            return self.status(401, "Unauthorized", "Unauthorized")
        group, version, ns, plural, name = p
        kverb = {"GET": "get" if name else "list", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[verb]
        if not self.allowed(user, groups, kverb, p):
            return self.status(403, "Forbidden", '%s "%s" is forbidden: User "%s" cannot %s' % (plural, name or "", user, kverb))
        body = None
        if verb in ("POST", "PUT", "PATCH"):
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = yaml.safe_load(raw) if "yaml" in self.headers.get("Content-Type", "") else json.loads(raw or b"{}")
        if verb == "GET" and name:
            obj, revision = get(key_of(group, plural, ns, name), revision=True)
            return self.send(200, versioned(obj, revision)) if obj else self.status(404, "NotFound", '%s "%s" not found' % (plural, name))
        if verb == "GET":
            return self.send(200, {"kind": "List", "apiVersion": "v1", "items": list_(key_of(group, plural, ns))})
        if verb == "DELETE":
            return self.send(200, {"kind": "Status", "status": "Success"}) if delete(key_of(group, plural, ns, name)) \
                else self.status(404, "NotFound", '%s "%s" not found' % (plural, name))
        meta = body.setdefault("metadata", {})
        if verb == "POST" and not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + os.urandom(3).hex()[:5]  # as the API server's names.SimpleNameGenerator
        obj_name = name or meta.get("name")
        k = key_of(group, plural, ns, obj_name)
        for _ in range(50):  # read, change, write if nothing else wrote meanwhile
            old, revision = get(k, revision=True)
            if verb == "POST" and old:
                return self.status(409, "AlreadyExists", '%s "%s" already exists' % (plural, obj_name))
            if verb == "PUT" and not old:
                return self.status(404, "NotFound", '%s "%s" not found' % (plural, obj_name))
            # An update naming the resourceVersion it read succeeds only if nothing wrote since
            # (optimistic concurrency: API concepts, "Resource versions"); leader election relies on it.
            wanted = (body.get("metadata") or {}).get("resourceVersion")
            if verb in ("PUT", "PATCH") and wanted and wanted != str(revision):
                return self.status(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your changes to the latest version and try again' % (plural, obj_name))
            new = merge(old, body) if verb == "PATCH" and "merge-patch" in self.headers.get("Content-Type", "") and old else json.loads(json.dumps(body))
            new.setdefault("metadata", {})["name"] = obj_name
            if ns:
                new["metadata"]["namespace"] = ns
            if plural == "customresourcedefinitions":
                new["status"] = {"conditions": [{"type": "Established", "status": "True"}, {"type": "NamesAccepted", "status": "True"}]}
            if plural == "certificatesigningrequests" and "system:bootstrappers" in groups | (groups & ADMINS):
                sign_csr(new)
            new["metadata"].pop("resourceVersion", None)
            written = put_if(k, new, revision)
            if written:
                versioned(new, written)
                break
        else:
            return self.status(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified' % (plural, obj_name))
        if not (plural == "nodes" and verb in ("PUT", "PATCH") and user.startswith("system:node:")):  # a kubelet's heartbeat is not worth a line
            record("kube-apiserver", "ok", args=[], verb=verb, path=path, user=user)
        return self.send(201 if verb == "POST" else 200, new)

    def do_GET(self): self.handle_any("GET")  # noqa: E704
    def do_POST(self): self.handle_any("POST")  # noqa: E704
    def do_PUT(self): self.handle_any("PUT")  # noqa: E704
    def do_PATCH(self): self.handle_any("PATCH")  # noqa: E704
    def do_DELETE(self): self.handle_any("DELETE")  # noqa: E704


def merge(old, patch):
    """JSON merge patch (RFC 7386)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(old) if isinstance(old, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


class Server(http.server.ThreadingHTTPServer):
    """TLS per connection, in the connection's own thread and with a deadline: a listening socket
    wrapped whole does each handshake in the accept loop, where one client that connects and sends
    nothing (a port probe) stops the server for every other client."""
    daemon_threads = True

    def __init__(self, address, ctx):
        super().__init__(address, Handler)
        self.ctx = ctx

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except OSError:
            request.close()
            return
        self.RequestHandlerClass(tls, client_address, self)


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(F["tls-cert-file"], F["tls-private-key-file"])
    ctx.load_verify_locations(F["client-ca-file"])
    ctx.verify_mode = ssl.CERT_OPTIONAL
    server = Server((F.get("bind-address", "0.0.0.0"), int(F.get("secure-port", "6443"))), ctx)
    record("kube-apiserver", "started")
    server.serve_forever()


main()
