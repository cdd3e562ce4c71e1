"""Traefik as the development cluster's router: a host process with the cluster's kubeconfig.

It uses its Kubernetes Ingress, Gateway API and CRD providers and routes to pod IPs from
EndpointSlices, so it reaches the node agent's pods directly (there is no kube-proxy). It
listens on the node's address: https on 443, http on 80 (redirected to https), and serves
the wildcard certificate by default. Its static configuration is a file (mode 600), so the
API token never shows in a process list.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
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
    """Where Go keeps `module` (`go mod download`: fetched when the cache lacks it, found
    wherever `go env GOMODCACHE` says, another GOPATH included)."""
    answer = subprocess.run(["go", "mod", "download", "-json", module], capture_output=True,
                            text=True, env=os.environ | {"GOFLAGS": "-mod=mod"}, cwd="/")  # fmt: skip
    try:
        folder = Path(json.loads(answer.stdout)["Dir"])
    except (ValueError, KeyError):
        raise RuntimeError(f"go mod download {module} failed: {answer.stderr.strip()}") from None
    return folder


def crds_folder() -> Path:
    """The CRDs `up` applies, kept beside the cached Traefik binary (not in Go's module cache,
    which `go clean -modcache` empties)."""
    return binaries.path_of("traefik").parent.parent / "crds"


def save_crds() -> Path:
    """Copy Traefik's CRDs and the Gateway API standard channel it supports next to the
    binaries, once (`scripts/cluster build`)."""
    folder = crds_folder()
    if folder.is_dir() and any(folder.glob("*.yaml")):
        return folder
    traefik = _module_dir(f"github.com/traefik/traefik/v3@{binaries.TRAEFIK_VERSION}")
    gateway = _module_dir(f"sigs.k8s.io/gateway-api@{GATEWAY_API_VERSION}")
    files = [traefik / "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml",
             *sorted((gateway / "config/crd/standard").glob("*.yaml"))]  # fmt: skip
    partial = folder.with_name("crds.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for index, source in enumerate(files):
        shutil.copyfile(source, partial / f"{index:02d}-{source.stem}.yaml")
    partial.rename(folder)
    return folder


def crds() -> list[dict]:
    """Traefik's own CRDs and the Gateway API standard channel, as `save_crds` kept them."""
    folder = crds_folder()
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not files:
        raise RuntimeError(f"no CRDs in {folder}: run scripts/cluster build")
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
            # A sleeping preview's Service has no endpoints: its route stays, answers 503, and
            # the preview's `errors` Middleware sends the visit to the waker.
            "kubernetesIngress": kubernetes | {"allowEmptyServices": True},
            "kubernetesGateway": kubernetes,
            # A preview's Middleware names the sign-in's Service in preview-system.
            "kubernetesCRD": kubernetes | {"allowCrossNamespace": True, "allowEmptyServices": True},
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
