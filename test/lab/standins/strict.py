"""A strict reader of kubeadm configuration streams, as `kubeadm config validate` reads them: the
Python twin of test/kubeadm/strict.ts for the lab's kubeadm stand-in, reading the same field lists
(upstream's types.go, fields/*.json). Every document's apiVersion and kind must be known, every
field one upstream declares, every value of its kind; then the checks kubeadm's validation package
makes of the fields imgforge sets."""
import ipaddress
import json
import os
import re

import yaml

FIELDS = os.environ.get("IMGFORGE_STANDIN_FIELDS", "/usr/share/imgforge-standins/fields")


def _load(name):
    with open(os.path.join(FIELDS, name + ".json"), encoding="utf-8") as f:
        return json.load(f)["types"]


KINDS = {
    "kubeadm.k8s.io/v1beta4/InitConfiguration": ("kubeadm-v1beta4", "InitConfiguration"),
    "kubeadm.k8s.io/v1beta4/ClusterConfiguration": ("kubeadm-v1beta4", "ClusterConfiguration"),
    "kubeadm.k8s.io/v1beta4/JoinConfiguration": ("kubeadm-v1beta4", "JoinConfiguration"),
    "kubelet.config.k8s.io/v1beta1/KubeletConfiguration": ("kubelet-v1beta1", "KubeletConfiguration"),
    "kubeproxy.config.k8s.io/v1alpha1/KubeProxyConfiguration": ("kubeproxy-v1alpha1", "KubeProxyConfiguration"),
}
GO_DURATION = re.compile(r"^(0|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$")
TOKEN = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
ENDPOINT = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?|\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\])(:\d{1,5})?$")


def _ip(s):
    try:
        ipaddress.ip_address(s)
        return True
    except (ValueError, TypeError):
        return False


def _cidr(s):
    try:
        ipaddress.ip_network(s, strict=False)
        return "/" in s
    except (ValueError, TypeError):
        return False


def _check(types, ref, value, path, out):
    if value is None and (ref.startswith("[]") or ref.startswith("map[")):
        return
    if ref == "any":
        return
    if ref.startswith("[]"):
        if not isinstance(value, list):
            out.append(path + ": must be a list")
            return
        for i, v in enumerate(value):
            _check(types, ref[2:], v, "%s[%d]" % (path, i), out)
        return
    if ref.startswith("map[string]"):
        if not isinstance(value, dict):
            out.append(path + ": must be a map")
            return
        for k, v in value.items():
            _check(types, ref[11:], v, path + "." + str(k), out)
        return
    simple = {
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "duration": isinstance(value, str) and GO_DURATION.match(value) is not None,
    }
    if ref in simple:
        if not simple[ref]:
            out.append("%s: must be %s" % (path, "an integer" if ref == "int" else "a " + ref))
        return
    fields = types[ref]
    if not isinstance(value, dict):
        out.append(path + ": must be an object")
        return
    for k, v in value.items():
        if k not in fields:
            out.append('%s.%s: unknown field "%s"' % (path, k, k))
        else:
            _check(types, fields[k], v, path + "." + k, out)


def _semantics(kind, d, out):
    if kind == "InitConfiguration":
        for i, t in enumerate(d.get("bootstrapTokens") or []):
            if not TOKEN.match(str(t.get("token", ""))):
                out.append("bootstrapTokens[%d].token: the bootstrap token is invalid" % i)
            if "ttl" in t and "expires" in t:
                out.append("bootstrapTokens[%d]: ttl and expires are mutually exclusive" % i)
        a = (d.get("localAPIEndpoint") or {}).get("advertiseAddress")
        if a is not None and not _ip(a):
            out.append("localAPIEndpoint.advertiseAddress: must be a valid IP address")
    if kind == "ClusterConfiguration":
        for f in ("podSubnet", "serviceSubnet"):
            v = (d.get("networking") or {}).get(f)
            if v is not None and not all(_cidr(x) for x in str(v).split(",")):
                out.append("networking.%s: couldn't parse subnet" % f)
        if "controlPlaneEndpoint" in d and not ENDPOINT.match(str(d["controlPlaneEndpoint"])):
            out.append("controlPlaneEndpoint: must be an IP or DNS name, with an optional port")
        etcd = d.get("etcd") or {}
        if etcd.get("local") and etcd.get("external"):
            out.append("etcd: local and external are mutually exclusive")
        if etcd.get("external") is not None and not (etcd["external"].get("endpoints") or []):
            out.append("etcd.external.endpoints: required")
    if kind == "JoinConfiguration":
        disc = d.get("discovery") or {}
        bt, file = disc.get("bootstrapToken"), disc.get("file")
        if not bt and not file:
            out.append("discovery: bootstrapToken or file must be set")
        if bt and file:
            out.append("discovery: bootstrapToken and file are mutually exclusive")
        if bt:
            if not TOKEN.match(str(bt.get("token", ""))):
                out.append("discovery.bootstrapToken.token: the bootstrap token is invalid")
            if not bt.get("apiServerEndpoint") or not ENDPOINT.match(str(bt["apiServerEndpoint"])):
                out.append("discovery.bootstrapToken.apiServerEndpoint: must be host:port")
            hashes = bt.get("caCertHashes") or []
            if not hashes and not bt.get("unsafeSkipCAVerification"):
                out.append("discovery.bootstrapToken: caCertHashes or unsafeSkipCAVerification must be set")
            for h in hashes:
                if not re.match(r"^sha256:[0-9a-f]{64}$", str(h)):
                    out.append("discovery.bootstrapToken.caCertHashes: invalid hash %s" % h)
        a = ((d.get("controlPlane") or {}).get("localAPIEndpoint") or {}).get("advertiseAddress")
        if a is not None and not _ip(a):
            out.append("controlPlane.localAPIEndpoint.advertiseAddress: must be a valid IP address")
    sock = (d.get("nodeRegistration") or {}).get("criSocket")
    if sock is not None and not str(sock).startswith("unix:///"):
        out.append("nodeRegistration.criSocket: must be a unix:// URL")


class _Loader(yaml.SafeLoader):
    """YAML as kubeadm reads it (sigs.k8s.io/yaml: to JSON, where a timestamp stays a string)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"] for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def validate(text):
    """Every error in the stream; [] when kubeadm would accept it. Also the documents, by kind."""
    out, seen, docs = [], set(), {}
    try:
        loaded = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as e:
        return ["not YAML: %s" % e], docs
    for i, d in enumerate(loaded):
        if not isinstance(d, dict):
            out.append("document %d: not an object" % i)
            continue
        key = "%s/%s" % (d.get("apiVersion"), d.get("kind"))
        if key not in KINDS:
            out.append("document %d: unknown apiVersion/kind %s" % (i, key))
            continue
        if key in seen:
            out.append("document %d: a second %s" % (i, d["kind"]))
        seen.add(key)
        docs[d["kind"]] = d
        errs = []
        lst, typ = KINDS[key]
        _check(_load(lst), typ, d, d["kind"], errs)
        _semantics(d["kind"], d, errs)
        out.extend(e if e.startswith(d["kind"]) else d["kind"] + "." + e for e in errs)
    if "InitConfiguration" in docs and "JoinConfiguration" in docs:
        out.append("InitConfiguration and JoinConfiguration in one stream")
    return out, docs
