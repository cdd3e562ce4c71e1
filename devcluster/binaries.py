"""Build the development cluster's programs from the Go module proxy, once per version.

Each program is built from a pinned module in tools/cluster/<name>/ (its go.mod holds the
versions and any `replace` lines the upstream build needs) and cached under
~/.cache/streamlit-preview/cluster/, so only the first `scripts/cluster up` pays for it. Version
ldflags are set the way each project's own release build sets them, so `/version`,
`kubectl version` and `traefik version` report the real release.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools" / "cluster"
KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
TRAEFIK_VERSION = "v3.6.12"
OAUTH2_PROXY_VERSION = "v7.15.6"
HELM_VERSION = "v4.3.2"
KUBE_ROUTER_VERSION = "v2.1.0"
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


@dataclass(frozen=True)
class Program:
    """One binary: where its module is pinned, which package is `main`, which ldflags."""

    name: str
    folder: str  # under tools/cluster/
    package: str
    version_flags: tuple[str, ...]
    cache: str  # cache folder name, with the versions


def _kubernetes_flags() -> tuple[str, ...]:
    # hack/lib/version.sh of Kubernetes: the same variables in both version packages.
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    values = {
        "gitVersion": KUBERNETES_VERSION, "gitMajor": major, "gitMinor": minor,
        "gitTreeState": "clean", "buildDate": _build_date(),
    }  # fmt: skip
    return tuple(
        f"-X {package}.{key}={value}"
        for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version")
        for key, value in values.items()
    )


def _build_date() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# "-versioned": built with the version ldflags (older caches report v0.0.0 and are not reused).
_KUBERNETES_CACHE = f"kubernetes-{KUBERNETES_VERSION}-etcd-{ETCD_VERSION}-versioned"
PROGRAMS = {
    "etcd": Program("etcd", "etcd", ".", (), _KUBERNETES_CACHE),
    **{
        name: Program(name, "kubernetes", f"k8s.io/kubernetes/cmd/{name}", (), _KUBERNETES_CACHE)
        for name in CONTROL_PLANE
    },
    "traefik": Program(
        "traefik", "traefik", "github.com/traefik/traefik/v3/cmd/traefik",
        (f"-X github.com/traefik/traefik/v3/pkg/version.Version={TRAEFIK_VERSION}",),
        f"traefik-{TRAEFIK_VERSION}",
    ),
    "oauth2-proxy": Program(
        "oauth2-proxy", "oauth2-proxy", "github.com/oauth2-proxy/oauth2-proxy/v7",
        (f"-X github.com/oauth2-proxy/oauth2-proxy/v7/pkg/version.VERSION={OAUTH2_PROXY_VERSION}",),
        f"oauth2-proxy-{OAUTH2_PROXY_VERSION}",
    ),
    "kube-router": Program(
        "kube-router", "kube-router", "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router",
        (f"-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version={KUBE_ROUTER_VERSION}",),
        f"kube-router-{KUBE_ROUTER_VERSION}",
    ),
    "helm": Program(
        "helm", "helm", "helm.sh/helm/v4/cmd/helm",
        (f"-X helm.sh/helm/v4/internal/version.version={HELM_VERSION}",),
        f"helm-{HELM_VERSION}",
    ),
}  # fmt: skip


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "streamlit-preview" / "cluster"


def path_of(name: str) -> Path:
    program = PROGRAMS[name]
    return cache_root() / program.cache / "bin" / name


def build(names: list[str], say: Callable[[str], object] = print) -> dict[str, Path]:
    """Build the programs that are not cached yet (one `go build` per module); return paths."""
    missing = [n for n in names if not path_of(n).exists()]
    if missing and shutil.which("go") is None:
        raise RuntimeError("go is not installed: the development cluster is built from source")
    env = os.environ | {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod -buildvcs=false"}
    by_folder: dict[str, list[Program]] = {}
    for name in missing:
        by_folder.setdefault(PROGRAMS[name].folder, []).append(PROGRAMS[name])
    for folder, programs in by_folder.items():
        started = time.monotonic()
        out = path_of(programs[0].name).parent
        out.mkdir(parents=True, exist_ok=True)
        flags = ["-s", "-w", *[f for p in programs for f in p.version_flags]]
        if folder == "kubernetes":
            flags += list(_kubernetes_flags())
        say(f"building {', '.join(p.name for p in programs)} (first time only; slow)")
        target = [str(out / programs[0].name)] if len(programs) == 1 else [str(out) + "/"]
        subprocess.run(
            ["go", "build", "-trimpath", f"-ldflags={' '.join(flags)}", "-o", *target,
             *[p.package for p in programs]],
            cwd=TOOLS / folder, env=env, check=True,
        )  # fmt: skip
        (out.parent / f"build-seconds-{folder}").write_text(f"{time.monotonic() - started:.0f}\n")
    return {n: path_of(n) for n in names}
