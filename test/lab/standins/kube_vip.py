"""kube-vip stand-in for the imgforge lab, run by the kubelet stand-in from kube-vip's static pod
(its env, its kubeconfig mount), as kube-vip runs in control-plane mode with ARP and leader
election (`manifest pod --controlplane --arp --leaderElection`): it competes for the Lease
vip_leasename in cp_namespace through the local API server, at kubernetes:<port> (the pod's
hostAliases point that name at 127.0.0.1; the API server's certificate names `kubernetes`), with
client-go's leader election rules (a holder renews every retry period; it is leader while its
renewals succeed within the renew deadline; another takes over once the record has not changed
for the lease duration, by an update that fails if anyone wrote first). The leader adds the VIP
to vip_interface as a /32 and announces it by gratuitous ARP; a node that stops being leader
drops it. Every change is recorded."""
import datetime
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, "/usr/lib/imgforge-standins")
from standin import record  # noqa: E402
import kube  # noqa: E402

E = os.environ
VIP, IFACE, PORT = E["address"], E["vip_interface"], int(E.get("port", "6443"))
NS, LEASE, ME = E.get("cp_namespace", "kube-system"), E.get("vip_leasename", "plndr-cp-lock"), E["vip_nodename"]
DURATION, DEADLINE, RETRY = int(E.get("vip_leaseduration", "5")), int(E.get("vip_renewdeadline", "3")), int(E.get("vip_retryperiod", "1"))
PATH = "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s" % (NS, LEASE)
CLIENT = kube.Client(E["IMGFORGE_KUBECONFIG"])


def call(method, path, body=None):
    """One request to kubernetes:PORT, that is 127.0.0.1, checked against the name `kubernetes`."""
    class Conn(http.client.HTTPSConnection):
        def connect(self):
            self.sock = CLIENT.ctx.wrap_socket(socket.create_connection(("127.0.0.1", PORT), 2), server_hostname="kubernetes")
    c = Conn("kubernetes", PORT, context=CLIENT.ctx, timeout=2)
    try:
        headers = {"Content-Type": "application/json", **({"Authorization": "Bearer " + CLIENT.token} if CLIENT.token else {})}
        c.request(method, path, json.dumps(body) if body is not None else None, headers)
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def try_acquire(observed):
    """One round of client-go's tryAcquireOrRenew; returns (leader?, the record seen, when it last changed)."""
    code, lease = call("GET", PATH)
    spec = (lease or {}).get("spec", {}) if code == 200 else {}
    record_now = (spec.get("holderIdentity"), spec.get("renewTime"))
    if record_now != observed[0]:
        observed = (record_now, time.monotonic())
    mine = {"holderIdentity": ME, "leaseDurationSeconds": DURATION, "renewTime": now()}
    if code == 404:
        mine.update(acquireTime=now(), leaseTransitions=0)
        code, _ = call("POST", PATH.rsplit("/", 1)[0], {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": LEASE, "namespace": NS}, "spec": mine})
        return code == 201, observed
    if code != 200:
        return False, observed
    if spec.get("holderIdentity") != ME:
        if time.monotonic() - observed[1] < DURATION and spec.get("holderIdentity"):
            return False, observed
        mine.update(acquireTime=now(), leaseTransitions=int(spec.get("leaseTransitions") or 0) + 1)
    else:
        mine.update(acquireTime=spec.get("acquireTime"), leaseTransitions=spec.get("leaseTransitions", 0))
    code, _ = call("PUT", PATH, dict(lease, spec=mine))
    return code == 200, observed


def has_vip():
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", IFACE], capture_output=True, text=True).stdout
    return (" %s/32 " % VIP) in out


def announce():
    """Gratuitous ARP (an ARP request for the VIP from the VIP, RFC 5227 §3), three times, as kube-vip's arp mode sends."""
    mac = bytes.fromhex(open("/sys/class/net/%s/address" % IFACE).read().strip().replace(":", ""))
    ip = socket.inet_aton(VIP)
    frame = b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\x00" * 6 + ip
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((IFACE, 0))
        for _ in range(3):
            s.send(frame)
            time.sleep(0.1)


def main():
    record("kube-vip", "started", vip=VIP, interface=IFACE, lease=LEASE)
    leader, renewed, observed = False, 0.0, ((None, None), time.monotonic())
    while True:
        try:
            ok, observed = try_acquire(observed)
        except (OSError, ValueError, http.client.HTTPException):
            ok = False
        if ok:
            renewed = time.monotonic()
        is_leader = ok or (leader and time.monotonic() - renewed < DEADLINE)
        if is_leader and not has_vip():
            subprocess.run(["ip", "addr", "add", VIP + "/32", "dev", IFACE], check=False)
            announce()
            record("kube-vip", "holds the VIP", vip=VIP)
        elif not is_leader and has_vip():
            subprocess.run(["ip", "addr", "del", VIP + "/32", "dev", IFACE], check=False)
            record("kube-vip", "dropped the VIP", vip=VIP)
        leader = is_leader
        time.sleep(RETRY)


main()
