"""Is a protected preview really protected? Decided from what the cluster and the route show,
never assumed from what was applied. Pure, no I/O: the backend reads, this decides.

- Traefik: the Middleware chain this project renders and tests; the route references it, so
  the router refuses the route without it.
- Istio: an AuthorizationPolicy acts only where a proxy serves the pod: a sidecar
  (`istio-proxy`) or, in ambient mode, a waypoint the workload uses.
- Envoy Gateway: a SecurityPolicy acts only once Envoy Gateway accepted it (its status says
  `Accepted`); another vendor's Gateway ignores it.
- Any router: one anonymous request through the route must not get the app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SIDECAR = "istio-proxy"
AMBIENT_ANNOTATION = "ambient.istio.io/redirection"
WAYPOINT_LABEL = "istio.io/use-waypoint"


def istio_gap(pods: Sequence[Mapping[str, Any]], service: Mapping[str, Any] | None) -> str | None:
    """What keeps Istio from enforcing the preview's AuthorizationPolicy, or None."""
    if not pods:
        return "no pod of the preview to check for Istio's proxy"
    service_labels = ((service or {}).get("metadata") or {}).get("labels") or {}
    for pod in pods:
        spec = pod.get("spec") or {}
        containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
        if any(c.get("name") == SIDECAR for c in containers):
            continue
        meta = pod.get("metadata") or {}
        ambient = (meta.get("annotations") or {}).get(AMBIENT_ANNOTATION) == "enabled"
        waypoint = (meta.get("labels") or {}).get(WAYPOINT_LABEL) or service_labels.get(
            WAYPOINT_LABEL
        )
        if ambient and waypoint:
            continue
        if ambient:
            return (f"pod {meta.get('name')} is in Istio's ambient mesh without a waypoint "
                    f"(label {WAYPOINT_LABEL}): its AuthorizationPolicy would not apply")  # fmt: skip
        return (f"pod {meta.get('name')} has no Istio sidecar ({SIDECAR}) and is not in an ambient "
                "mesh with a waypoint: its AuthorizationPolicy would not apply")  # fmt: skip
    return None


def envoy_gap(policy: Mapping[str, Any] | None) -> str | None:
    """What keeps Envoy Gateway from enforcing the SecurityPolicy, or None once Accepted."""
    if policy is None:
        return "the SecurityPolicy is gone"
    ancestors = ((policy.get("status") or {}).get("ancestors")) or []
    conditions = [c for a in ancestors for c in a.get("conditions") or []]
    accepted = [c for c in conditions if c.get("type") == "Accepted"]
    if any(c.get("status") == "True" for c in accepted):
        return None
    refused = [c.get("message") or c.get("reason") for c in accepted if c.get("status") == "False"]
    if refused:
        return f"Envoy Gateway did not accept the SecurityPolicy: {refused[0]}"
    return ("no Envoy Gateway accepted the SecurityPolicy (its status says nothing): is the "
            "Gateway served by Envoy Gateway?")  # fmt: skip


def looks_like_the_app(status: int, body: str) -> bool:
    """An anonymous answer that is the app (Streamlit's page), not a sign-in redirect or a
    refusal."""
    return status == 200 and ("<title>Streamlit</title>" in body or "window.__streamlit" in body
                              or "/static/js/index." in body)  # fmt: skip
