"""Traefik as the development cluster's router: a host process with the cluster's kubeconfig.

It uses its Kubernetes Ingress, Gateway API and CRD providers and routes to pod IPs from
EndpointSlices, so it reaches the node agent's pods directly (there is no kube-proxy). It
listens on the node's address: https on 443, http on 80 (redirected to https), and serves
the wildcard certificate by default. Its static configuration is a file (mode 600), so the
API token never shows in a process list.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx
import yaml

from devcluster import binaries
from devcluster.controlplane import ControlPlane, spawn, wait_until
from devcluster.pki import Certificates

GATEWAY_API_VERSION = "v1.4.0"  # what Traefik v3.6 supports (its go.mod)
INGRESS_CLASS = "traefik"
GATEWAY_CLASS = "traefik"


def _module_dir(module: str) -> Path:
    cache = Path(os.environ.get("GOMODCACHE") or Path.home() / "go" / "pkg" / "mod")
    folder = cache / module
    if not folder.is_dir():
        raise RuntimeError(
            f"{module} is not in the Go module cache ({cache}): run scripts/cluster build"
        )
    return folder


def crds() -> list[dict]:
    """Traefik's own CRDs and the Gateway API standard channel it supports, from the module cache."""
    traefik = _module_dir(f"github.com/traefik/traefik/v3@{binaries.TRAEFIK_VERSION}")
    gateway = _module_dir(f"sigs.k8s.io/gateway-api@{GATEWAY_API_VERSION}")
    files = [traefik / "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml",
             *sorted((gateway / "config/crd/standard").glob("*.yaml"))]  # fmt: skip
    return [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]


def classes() -> list[dict]:
    """Traefik's IngressClass (the cluster's default) and its GatewayClass."""
    return [
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
         "metadata": {"name": INGRESS_CLASS,
                      "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
         "spec": {"controller": "traefik.io/ingress-controller"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": GATEWAY_CLASS},
         "spec": {"controllerName": "traefik.io/gateway-controller"}},
    ]  # fmt: skip


def tls_secret(certificates: Certificates, *, name: str, namespace: str) -> dict:
    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    return {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"tls.crt": b64(certificates.chain), "tls.key": b64(certificates.key)},
    }  # fmt: skip


def start(plane: ControlPlane, certificates: Certificates, *, address: str, detach: bool) -> str:
    """Start Traefik on `address` (ports 80 and 443); return the address once it serves."""
    folder = plane.state / "traefik"
    folder.mkdir(exist_ok=True)
    from devcluster.processes import free_port

    ping_port = free_port()
    kubernetes = {
        "endpoint": plane.server, "token": plane.token, "certAuthFilePath": str(plane.ca_path),
    }  # fmt: skip
    static = {
        "entryPoints": {
            "web": {"address": f"{address}:80",
                    "http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https"}}}},
            "websecure": {"address": f"{address}:443", "http": {"tls": {}},
                          # Streamlit's WebSocket stays open for hours: no idle cut.
                          "transport": {"respondingTimeouts": {"readTimeout": "0s", "idleTimeout": "0s"}}},
            "ping": {"address": f"127.0.0.1:{ping_port}"},
        },
        "ping": {"entryPoint": "ping"},
        "providers": {
            # A new preview is routed a fraction of a second after it is ready (default: 2 s).
            "providersThrottleDuration": "200ms",
            "kubernetesIngress": kubernetes,
            "kubernetesGateway": kubernetes,
            "kubernetesCRD": kubernetes,
            "file": {"filename": str(folder / "dynamic.yaml")},
        },
        "log": {"level": "INFO", "noColor": True},
        "accessLog": {"filePath": str(plane.state / "logs" / "traefik-access.log")},
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
    }  # fmt: skip
    dynamic = {"tls": {"stores": {"default": {"defaultCertificate": {
        "certFile": str(certificates.chain), "keyFile": str(certificates.key)}}}}}  # fmt: skip
    (folder / "dynamic.yaml").write_text(yaml.safe_dump(dynamic))
    config = folder / "traefik.yaml"
    config.touch(mode=0o600)
    config.write_text(yaml.safe_dump(static))
    traefik = binaries.build(["traefik"])["traefik"]
    spawn("traefik", [str(traefik), f"--configFile={config}"], plane.state, detach=detach)
    wait_until(lambda: httpx.get(f"http://127.0.0.1:{ping_port}/ping", timeout=2).status_code == 200,
               60, "traefik", plane.state)  # fmt: skip
    return address
