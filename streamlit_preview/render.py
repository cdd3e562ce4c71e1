"""Templates → validated dicts: the objects of one environment. Pure, no I/O.

Every `{{ value }}` is emitted as JSON, which is valid YAML, so a branch, host or env value
with quotes, colons, newlines or `{{` stays one plain string: no value can change the
structure. What is rendered here is exactly what is applied (as raw dicts).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import yaml

from . import routers
from .access import SIGN_IN_CONFIGMAP, Access, AccessKind, SignIn, SignInRouter
from .config import Settings
from .cookies import SIGN_IN_COOKIE, STRIP_COOKIES_PATH
from .errors import InputError
from .naming import labels_for
from .reloader import contract
from .sleeping import ANNOTATION_SLEEP_AFTER, WAKE_PATH

TEMPLATES = Path(__file__).parent / "templates"
ANNOTATION_PREFIX = "streamlit-preview.dev/"
STREAMLIT_PORT = 8501
CONTROL_PORT = 8080
SECRETS_DIR = "/etc/streamlit-preview"
WEBHOOK_KEY = "webhook-key"
GIT_TOKEN = "git-token"
SECRETS_TOML = "secrets.toml"  # st.secrets reads it (Streamlit's secrets.files option)


@dataclass(frozen=True)
class Kind:
    """One kind of object an environment may have: its API, plural, and whether an open
    prunes it when it is no longer rendered (routes and access objects)."""

    api: str
    kind: str
    plural: str
    prunable: bool = False


# Every kind `close` deletes, in the order it deletes them: routes before the access objects
# they reference (a route is never left without its protection), then the workload.
KINDS = (
    Kind("networking.istio.io/v1", "VirtualService", "virtualservices", prunable=True),
    Kind("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes", prunable=True),
    Kind("networking.k8s.io/v1", "Ingress", "ingresses", prunable=True),
    Kind("traefik.io/v1alpha1", "Middleware", "middlewares", prunable=True),
    Kind("security.istio.io/v1", "AuthorizationPolicy", "authorizationpolicies", prunable=True),
    Kind("gateway.envoyproxy.io/v1alpha1", "SecurityPolicy", "securitypolicies", prunable=True),
    Kind("apps/v1", "Deployment", "deployments"),
    Kind("v1", "Service", "services"),
    Kind("v1", "Secret", "secrets"),
    Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
)
ALL_KINDS = tuple((k.api, k.kind, k.plural) for k in KINDS)
REFUSED_PAGE = "/_preview_access/refused.html"
DATA_DIR = "/data"


# libyaml's parser when PyYAML was built with it: the same safe loader, ten times faster.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Characters YAML reads as line breaks (U+0085, U+2028, U+2029) or refuses (C1 controls, a
# byte-order mark) even inside a double-quoted scalar: written as escapes, they arrive as sent.
_YAML_UNSAFE = re.compile("[\u007f-\u009f\u2028\u2029\ufeff]")


def _as_json(value: object) -> object:
    if isinstance(value, jinja2.Undefined):
        return value
    text = json.dumps(value, ensure_ascii=False)
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.StrictUndefined,
    finalize=_as_json,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def annotations_for(settings: Settings, *, now: datetime | None = None) -> dict[str, str]:
    target = settings.target
    annotations = {
        ANNOTATION_PREFIX + "repository": target.repository,
        ANNOTATION_PREFIX + "pr": str(target.pr),
        ANNOTATION_PREFIX + "branch": target.branch,
        ANNOTATION_PREFIX + "sha": target.sha or "",
        ANNOTATION_PREFIX + "router": settings.router,
        ANNOTATION_PREFIX + "url": settings.url or "",
    }
    if settings.name:
        annotations[ANNOTATION_PREFIX + "name"] = settings.name
    if settings.pin:
        annotations[ANNOTATION_PREFIX + "pinned"] = "true"
    if settings.git_token:
        annotations[ANNOTATION_PREFIX + "private"] = "true"
    annotations[ANNOTATION_SLEEP_AFTER] = (
        str(settings.sleep_after) if settings.sleep_after else "never"
    )
    if settings.ttl_seconds:
        expires = (now or datetime.now(UTC)) + timedelta(seconds=settings.ttl_seconds)
        annotations[ANNOTATION_PREFIX + "expires-at"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    return annotations


def secret_data(settings: Settings, *, webhook_key: str) -> dict[str, str]:
    data = {WEBHOOK_KEY: _b64(webhook_key)}
    if settings.git_token:
        data[GIT_TOKEN] = _b64(settings.git_token)
    for key, value in settings.secret_env.items():
        data[f"env-{key}"] = _b64(value)
    if settings.secrets_toml is not None:
        data[SECRETS_TOML] = _b64(settings.secrets_toml)
    return data


def _container_env(settings: Settings) -> list[dict[str, str]]:
    reloader = contract.for_settings(
        settings, workdir="/workspace", webhook_secret_file=f"{SECRETS_DIR}/{WEBHOOK_KEY}",
        streamlit_port=STREAMLIT_PORT, control_port=CONTROL_PORT,
        git_token_file=f"{SECRETS_DIR}/{GIT_TOKEN}" if settings.git_token else None,
        secrets_file=f"{SECRETS_DIR}/{SECRETS_TOML}" if settings.secrets_toml is not None else None,
        data_dir=DATA_DIR if settings.data_size else None,
    )  # fmt: skip
    env = [{"name": k, "value": v} for k, v in reloader.items()] + [
        {"name": "HOME", "value": "/tmp"}
    ]
    env += [{"name": k, "value": v} for k, v in settings.env.items()]
    env += [{"name": k, "secret_key": f"env-{k}"} for k in settings.secret_env]
    return env


def _resources(settings: Settings) -> dict[str, dict[str, str]]:
    amounts = {
        "cpu": settings.cpu, "memory": settings.memory,
        "ephemeral-storage": settings.ephemeral_storage,
    }  # fmt: skip
    if settings.gpu:
        amounts["nvidia.com/gpu"] = str(settings.gpu)
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _gateway_ref(settings: Settings) -> tuple[str, dict[str, str]]:
    namespace, _, name = settings.gateway.rpartition("/")
    istio = f"{namespace}/{name}" if namespace else name
    parent = {"name": name, "namespace": namespace or settings.namespace}
    return istio, parent


@dataclass(frozen=True)
class Waker:
    """The receiver's waker, as the cluster declares it (`waker-*` in the defaults ConfigMap):
    the Service a sleeping preview's `errors` Middleware sends a visit to (Traefik only)."""

    service: str
    namespace: str | None
    port: int

    @classmethod
    def from_defaults(cls, data: dict[str, str]) -> Waker | None:
        if not data.get("waker-service"):
            return None
        return cls(data["waker-service"], data.get("waker-namespace") or None,
                   int(data.get("waker-port") or 80))  # fmt: skip


WAKES_ON = ("ingress", "gateway-api")  # the routers whose Traefik Middlewares can wake


def render_manifests(
    settings: Settings, *, webhook_key: str, now: datetime | None = None,
    access: Access | None = None, sign_in: SignIn | None = None, waker: Waker | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The environment's objects, Secret first (what the Deployment needs exists first), the
    access objects before the route that references them, the route last."""
    context = _context(settings, webhook_key=webhook_key, now=now, access=access, sign_in=sign_in)
    templates = ["secret.yaml.j2", "service.yaml.j2", "deployment.yaml.j2"]
    if settings.data_size:
        templates.insert(1, "pvc.yaml.j2")
    protected = access is not None and access.protected
    wakes = waker is not None and _wakes(settings, protected=protected, sign_in=sign_in)
    if wakes and waker is not None:
        context |= _waker_context(settings, waker, protected=protected)
        _reference_chain(settings, context)
    if protected and access is not None:
        templates.append(_access_template(settings, access, sign_in, context))
    if wakes:
        templates.append("wake-traefik.yaml.j2")
    route = routers.BY_NAME[settings.router].template
    if route:
        templates.append(route)
    return [
        document
        for t in templates
        for document in yaml.load_all(_environment.get_template(t).render(context), Loader=_LOADER)
        if document
    ]


def _wakes(settings: Settings, *, protected: bool, sign_in: SignIn | None) -> bool:
    """A sleeping preview can be woken by a visit: it may sleep, its router sends a visit to
    the waker (Traefik), and a protected one is signed in by Traefik too."""
    if settings.sleep_after is None or settings.router not in WAKES_ON:
        return False
    return not protected or (sign_in is not None and sign_in.router is SignInRouter.TRAEFIK)


def _waker_context(settings: Settings, waker: Waker, *, protected: bool) -> dict[str, Any]:
    return {
        "waker_service": waker.service, "waker_namespace": waker.namespace,
        "waker_port": waker.port, "protected": protected,
        "waker_query": WAKE_PATH.format(namespace=settings.namespace, environment=settings.environment),
    }  # fmt: skip


def _context(
    settings: Settings, *, webhook_key: str, now: datetime | None, access: Access | None,
    sign_in: SignIn | None,
) -> dict[str, Any]:  # fmt: skip
    """What every template reads: names, labels, the Secret, the pod and the route."""
    name = settings.environment
    data = secret_data(settings, webhook_key=webhook_key)
    istio_gateway, parent_ref = _gateway_ref(settings)
    secret_files = [{"key": WEBHOOK_KEY, "path": WEBHOOK_KEY}]
    if settings.git_token:
        secret_files.append({"key": GIT_TOKEN, "path": GIT_TOKEN})
    if settings.secrets_toml is not None:
        secret_files.append({"key": SECRETS_TOML, "path": SECRETS_TOML})
    # A changed secret or setting must restart the pod: hash them into its template.
    config_hash = hashlib.sha256(
        json.dumps([data, settings.env, settings.app_path], sort_keys=True).encode()
    ).hexdigest()[:16]
    annotations = annotations_for(settings, now=now)
    if access is not None:
        annotations[ANNOTATION_PREFIX + "access"] = access.text
    if sign_in is not None:
        annotations[ANNOTATION_PREFIX + "sign-in"] = sign_in.url
    return {
        "name": name,
        "namespace": settings.namespace,
        "labels": labels_for(
            name, repository=settings.target.repository, pr=settings.target.pr, app=settings.name
        ),
        "selector": {"app.kubernetes.io/instance": name},
        "annotations": annotations,
        "pod_annotations": {ANNOTATION_PREFIX + "config-hash": config_hash},
        "secret_data": data,
        "secret_files": secret_files,
        "image": settings.image,
        "env": _container_env(settings),
        "resources": _resources(settings),
        "node_selector": settings.node_selector,
        "tolerations": _tolerations(settings),
        "image_pull_secret": settings.image_pull_secret,
        "data_size": settings.data_size,
        "data_storage_class": settings.data_storage_class,
        "data_dir": DATA_DIR,
        "streamlit_port": STREAMLIT_PORT,
        "control_port": CONTROL_PORT,
        "startup_failures": max(12, settings.wait_timeout // 5 + 1),
        "host": settings.host,
        "gateway": istio_gateway,
        "parent_ref": parent_ref,
        "ingress_class": settings.ingress_class,
        "service_host": f"{name}.{settings.namespace}.svc.cluster.local",
        "ingress_annotations": dict(annotations),
        "traefik_middleware": None,
        "waker_service": None,  # set when the preview may sleep and wake (Traefik)
        "ephemeral_storage": settings.ephemeral_storage,
        "workspace_size": settings.workspace_size,
    }


def _reference_chain(settings: Settings, context: dict[str, Any]) -> None:
    """The route references `<name>-access`, the preview's Traefik chain."""
    context["traefik_middleware"] = f"{settings.environment}-access"
    context["ingress_annotations"] = context["ingress_annotations"] | {
        "traefik.ingress.kubernetes.io/router.middlewares":
            f"{settings.namespace}-{settings.environment}-access@kubernetescrd",
    }  # fmt: skip


def _access_template(
    settings: Settings, access: Access, sign_in: SignIn | None, context: dict[str, Any]
) -> str:
    """Fill `context` for the sign-in's router and name its template; refuse what it cannot
    protect (a preview that asked for protection is never served in public)."""
    if sign_in is None:
        raise InputError("access", f"{access.text} needs the cluster's shared sign-in")
    if settings.router not in routers.protectable_by(sign_in.router):
        allowed = " or ".join(routers.protectable_by(sign_in.router))
        raise InputError(
            "router", f"the cluster's sign-in runs on {sign_in.router.value}: use router "
            f"{allowed} for a protected preview (or access: public)",
        )  # fmt: skip
    collaborators = access.kind is AccessKind.COLLABORATORS
    if collaborators and not (
        sign_in.router is SignInRouter.TRAEFIK and sign_in.collaborators_check
    ):
        raise InputError(
            "access", "collaborators needs the webhook receiver's access check (collaborators-check in "
            f"ConfigMap {SIGN_IN_CONFIGMAP}, the chart's receiver); or use org:<name> or team:<org>/<slug>",
        )  # fmt: skip
    if sign_in.router is SignInRouter.TRAEFIK:
        forward = sign_in.forward_auth or ""
        if not collaborators:
            forward += ("&" if "?" in forward else "?") + f"allowed_groups={access.allowed_groups}"
        check = (f"{sign_in.collaborators_check}/access/collaborators/{access.repository}"
                 if collaborators else None)  # fmt: skip
        rule = hashlib.sha256(f"{forward}\n{check}".encode()).hexdigest()[:8]
        context |= {
            "forward_auth_address": forward,
            "collaborators_address": check,
            "sign_in_middleware": f"{settings.environment}-sign-in-{rule}",
            "collaborators_middleware": f"{settings.environment}-collaborators-{rule}",
            "sign_in_service": sign_in.service, "sign_in_port": sign_in.service_port,
            "sign_in_service_namespace": sign_in.service_namespace,
            "strip_cookies_address": f"{sign_in.cookie_filter}{STRIP_COOKIES_PATH}"
            + ("" if sign_in.cookie_name == SIGN_IN_COOKIE else f"?name={sign_in.cookie_name}"),
            "refused_page": REFUSED_PAGE,
        }  # fmt: skip
        _reference_chain(settings, context)
        return routers.sign_in_template(sign_in.router)
    if sign_in.enforces != access.text:
        raise InputError(
            "access", f"{access.text}: on {sign_in.router.value} the shared sign-in applies one "
            f"rule for every preview ({sign_in.enforces}); ask for that or for public",
        )  # fmt: skip
    backend_name, _, backend_port = (sign_in.envoy_backend or "").partition(":")
    context |= {
        "istio_provider": sign_in.istio_provider, "streamlit_port_text": str(STREAMLIT_PORT),
        "envoy_backend_name": backend_name, "envoy_backend_port": int(backend_port or 4180),
    }  # fmt: skip
    return routers.sign_in_template(sign_in.router)


def _tolerations(settings: Settings) -> list[dict[str, str]]:
    """The `tolerations` input, and the GPU pools' usual taint when GPUs are asked for."""
    tolerations = list(settings.tolerations)
    gpu = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    if settings.gpu and gpu not in tolerations:
        tolerations.append(gpu)
    return tolerations


def to_yaml(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)
