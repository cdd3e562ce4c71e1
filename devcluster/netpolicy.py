"""The development cluster's NetworkPolicy engine: kube-router's firewall (its network policy
controller only), a host process with the cluster's kubeconfig.

It writes iptables rules (this machine's iptables is the nftables backend) and ipsets that
filter each pod's traffic by the NetworkPolicies that select it, on the bridge (br_netfilter)
and to the node itself. kube-router v2.1.0 is the only version the Go module proxy serves
here, and security flaws are reported for it: it is the development cluster's test engine,
never part of the examples or the chart. `sigs.k8s.io/kube-network-policies` was tried first:
it needs nftables' `queue` expression, which this kernel lacks.

kube-router lets the node itself reach its pods (the kubelet's probes), so the router (Traefik
on the host), the API server's proxy and host-process stand-ins reach previews as they would
from the node; pods reaching the node are filtered like any egress.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time

from devcluster import binaries
from devcluster.controlplane import ControlPlane, spawn

NODE_NAME = "preview-node"
_OURS = ("KUBE-ROUTER-", "KUBE-NWPLCY-", "KUBE-POD-FW-")  # the chains kube-router writes
_SETS = ("KUBE-SRC-", "KUBE-DST-")


def start(plane: ControlPlane, *, detach: bool) -> None:
    if shutil.which("ipset") is None:
        raise RuntimeError("kube-router needs the ipset command: apt install ipset")
    program = binaries.build(["kube-router"])["kube-router"]
    spawn("kube-router", [str(program), "--kubeconfig", str(plane.kubeconfig_path),
                          "--hostname-override", NODE_NAME, "--run-firewall=true",
                          "--run-router=false", "--run-service-proxy=false", "--health-port=0",
                          "--service-cluster-ip-range", "10.96.0.0/16",
                          "--iptables-sync-period", "30s"], plane.state, detach=detach)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "KUBE-ROUTER-FORWARD" in _rules():
            return
        time.sleep(0.25)
    raise RuntimeError(
        "kube-router did not write its chains within 60 s (see logs/kube-router.log)"
    )


def _rules() -> str:
    return subprocess.run(["iptables-save", "-t", "filter"], capture_output=True, text=True).stdout


def cleanup() -> None:
    """Remove what kube-router wrote (after it stopped): its jumps, chains and ipsets."""
    if shutil.which("iptables") is None:
        return
    for line in _rules().splitlines():
        words = shlex.split(line)  # the rules' comments hold spaces
        jump = words[words.index("-j") + 1] if "-j" in words[:-1] else ""
        if (
            words[:1] == ["-A"]
            and words[1] in ("INPUT", "FORWARD", "OUTPUT")
            and jump.startswith("KUBE-ROUTER-")
        ):
            subprocess.run(["iptables", "-D", *words[1:]], capture_output=True)
    chains = [line[1:].split()[0] for line in _rules().splitlines()
              if line.startswith(":") and line[1:].startswith(_OURS)]  # fmt: skip
    for chain in chains:
        subprocess.run(["iptables", "-F", chain], capture_output=True)
    for chain in chains:
        subprocess.run(["iptables", "-X", chain], capture_output=True)
    if shutil.which("ipset"):
        names = subprocess.run(
            ["ipset", "list", "-n"], capture_output=True, text=True
        ).stdout.split()
        for name in names:
            if name.startswith(_SETS):
                subprocess.run(["ipset", "destroy", name], capture_output=True)
