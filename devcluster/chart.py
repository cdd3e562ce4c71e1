"""The development cluster's platform side, installed as operators install it: `helm install` of
charts/streamlit-preview, with the development cluster's values.

What differs from a production install is only in the values: the sign-in (oauth2-proxy) and
the receiver run as host processes here (no registry serves their images to the node agent),
so the chart points at them (`signIn.external`, `receiver.external`) instead of deploying them;
the rest (namespaces per repository, identities, the admission policy, quotas, limits, network
policies, the cleanup job, the sign-in's Service and route) is the chart's own.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from devcluster import binaries
from devcluster.container import NODE_IP
from devcluster.controlplane import ControlPlane

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "streamlit-preview"
RELEASE = "streamlit-preview"
PLATFORM_NAMESPACE = "preview-system"
SHARED_NAMESPACE = "previews"  # the kubeconfig choice, which most tests use
REPOSITORIES = {"acme/app": "preview-acme-app", "acme/other": "preview-acme-other"}


# Enforced by kube-router (devcluster/netpolicy.py). Traefik, the API server and the stand-ins
# are host processes, and the node reaches its pods. The tests' git servers run on the node at
# ephemeral ports, which previews may reach; the API server (6443), the sign-in (4180) and the
# receiver (9000) are outside that range.
DEVELOPMENT_POLICIES = {
    "routerNamespace": "kube-system", "apiServer": [f"{NODE_IP}/32"],
    "extraEgress": [{"to": [{"ipBlock": {"cidr": f"{NODE_IP}/32"}}],
                     "ports": [{"protocol": "TCP", "port": 32768, "endPort": 60999}]}],
}  # fmt: skip


def values(*, domain: str, sign_in: str, receiver: str) -> dict:
    return {
        "domain": domain,
        "router": "gateway-api",
        "gateway": f"{SHARED_NAMESPACE}/preview-gateway",
        "repositories": [{"name": name, "namespace": ns} for name, ns in REPOSITORIES.items()],
        "sharedNamespace": {"enabled": True, "name": SHARED_NAMESPACE},
        "signIn": {"external": sign_in},
        "receiver": {"external": receiver},
        "networkPolicies": DEVELOPMENT_POLICIES,
        "cleanup": {"schedule": "0 0 1 1 *"},  # installed, never due during a test run
    }


def run_helm(
    kubeconfig: Path, home: Path, *args: str, check: bool = False
) -> subprocess.CompletedProcess:
    """The cached helm against the cluster of `kubeconfig`, its caches and config under
    `home` (nothing of the machine's own)."""
    env = {
        "KUBECONFIG": str(kubeconfig), "HOME": str(home), "PATH": "/usr/bin:/bin",
        "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }  # fmt: skip
    program = binaries.build(["helm"])["helm"]
    answer = subprocess.run(
        [str(program), *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check and answer.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args[:2])} failed: {answer.stderr.strip()}")
    return answer


def install(plane: ControlPlane, chart_values: dict) -> None:
    home = plane.state / "helm"
    home.mkdir(parents=True, exist_ok=True)
    (home / "values.yaml").write_text(yaml.safe_dump(chart_values))
    run_helm(plane.kubeconfig_path, home, "upgrade", "--install", RELEASE, str(CHART),
             "--namespace", PLATFORM_NAMESPACE, "--create-namespace",
             "--values", str(home / "values.yaml"), "--wait", "--timeout", "2m", check=True)  # fmt: skip


def namespaces_export() -> str:
    return ",".join(f"{name}={ns}" for name, ns in REPOSITORIES.items())


RECEIVER_RELEASE = ("hook-test", "hook-test-system", "hook-test-previews")


@contextmanager
def receiver_release(
    kubeconfig: dict, *, image: str, domain: str, secret: bytes, repository: str
) -> Iterator[str]:
    """A second release of the chart with the receiver as a pod (`receiver.enabled`) and one
    repository's namespace (`hook-test-previews`); yields `https://hooks.<domain>/`. Used by
    the receiver-pod test and bench; uninstalled afterwards."""
    release, system, previews = RECEIVER_RELEASE
    name, _, tag = image.rpartition(":")
    chart_values = {"domain": domain, "router": "ingress", "image": {"repository": name, "tag": tag},
                    "repositories": [{"name": repository, "namespace": previews}],
                    "signIn": {"enabled": False}, "cleanup": {"enabled": False},
                    "networkPolicies": DEVELOPMENT_POLICIES}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
        (home / "values.yaml").write_text(yaml.safe_dump(chart_values))

        def helm(*args: str) -> subprocess.CompletedProcess:
            return run_helm(home / "kubeconfig", home, *args)

        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": system}}
        from devcluster.cluster import apply, client_for

        with client_for(kubeconfig) as admin:
            apply(admin, [namespace, {"apiVersion": "v1", "kind": "Secret",
                                       "metadata": {"name": "streamlit-preview-hook", "namespace": system},
                                       "stringData": {"webhook-secret": secret.decode()}}])  # fmt: skip
        installed = helm("install", release, str(CHART), "-n", system, "-f", str(home / "values.yaml"),
                         "--wait", "--timeout", "3m")  # fmt: skip
        try:
            if installed.returncode != 0:
                raise RuntimeError(f"helm install {release}: {installed.stderr.strip()}")
            yield f"https://hooks.{domain}/"
        finally:
            helm("uninstall", release, "-n", system, "--wait")
            with client_for(kubeconfig) as admin:
                admin.delete(f"/api/v1/namespaces/{system}")
