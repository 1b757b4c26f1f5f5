"""Certificates and kubeconfigs as kubeadm makes them (cmd/kubeadm/app/phases/certs, kubeconfig),
with the openssl command-line tool: each signed by the CA kubeadm would use, never over a file
that exists (kubeadm keeps valid certificates, and imgforge pre-seeds the CAs and shared keys)."""
import base64
import os
import secrets
import subprocess
import tempfile

import yaml

PKI = "/etc/kubernetes/pki"


def openssl(*args):
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


def new_key(path, algorithm):
    if algorithm.startswith("ECDSA"):
        pem = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    else:
        pem = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%s" % (algorithm.split("-")[1] if "-" in algorithm else "2048"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def sign(key, cn, orgs, ca, usages, sans=(), out=None):
    """A certificate for key, signed by ca (a path without .crt/.key); returns its PEM, written to out if given."""
    subj = "".join("/O=%s" % o for o in orgs) + "/CN=%s" % cn
    with tempfile.TemporaryDirectory() as d:
        ext = ["keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=" + ",".join(usages)]
        if sans:
            ext.append("subjectAltName=" + ",".join(sans))
        open(os.path.join(d, "ext"), "w").write("\n".join(ext) + "\n")
        openssl("req", "-new", "-key", key, "-subj", subj, "-out", os.path.join(d, "csr"))
        pem = openssl("x509", "-req", "-in", os.path.join(d, "csr"), "-CA", ca + ".crt", "-CAkey", ca + ".key",
                      "-set_serial", "0x" + secrets.token_hex(8), "-days", "365", "-extfile", os.path.join(d, "ext"))
    if out:
        with open(out, "wb") as f:
            f.write(pem)
    return pem


def issue(name, cn, orgs, ca, usages, sans, algorithm):
    """PKI/<name>.crt and .key unless both exist."""
    crt, key = os.path.join(PKI, name + ".crt"), os.path.join(PKI, name + ".key")
    if os.path.exists(crt) and os.path.exists(key):
        return False
    os.makedirs(os.path.dirname(crt), exist_ok=True)
    new_key(key, algorithm)
    sign(key, cn, orgs, os.path.join(PKI, ca), usages, sans, crt)
    return True


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def kubeconfig(cluster, server, user, cert_pem=None, key_pem=None, cert_file=None, key_file=None, token=None):
    u = {}
    if cert_pem:
        u = {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}
    elif cert_file:
        u = {"client-certificate": cert_file, "client-key": key_file}
    elif token:
        u = {"token": token}
    ca = open(os.path.join(PKI, "ca.crt"), "rb").read() if os.path.exists(os.path.join(PKI, "ca.crt")) else None
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "%s@%s" % (user, cluster),
        "clusters": [{"name": cluster, "cluster": {"server": server, **({"certificate-authority-data": b64(ca)} if ca else {})}}],
        "contexts": [{"name": "%s@%s" % (user, cluster), "context": {"cluster": cluster, "user": user}}],
        "users": [{"name": user, "user": u}],
    }, sort_keys=False)


def client_kubeconfig(path, cluster, server, cn, orgs, algorithm):
    """A kubeconfig with its own client certificate signed by the cluster CA, unless it exists."""
    if os.path.exists(path):
        return False
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "key")
        new_key(key, algorithm)
        cert = sign(key, cn, orgs, os.path.join(PKI, "ca"), ["clientAuth"])
        text = kubeconfig(cluster, server, cn, cert, open(key, "rb").read())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return True


def ca_hash(ca_pem):
    """sha256:<hex> of the CA's SubjectPublicKeyInfo, as kubeadm pins it (pubkeypin)."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(ca_pem)
        f.flush()
        pub = openssl("x509", "-in", f.name, "-noout", "-pubkey")
    with tempfile.NamedTemporaryFile() as p:
        p.write(pub)
        p.flush()
        der = openssl("pkey", "-pubin", "-in", p.name, "-outform", "DER")
    import hashlib
    return "sha256:" + hashlib.sha256(der).hexdigest()
