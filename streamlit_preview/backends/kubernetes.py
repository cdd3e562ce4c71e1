"""The Kubernetes backend: server-side apply of raw dicts, rollout wait, sync, close.

The only module that imports `kubernetes`. It talks to the API through the client's
`ApiClient` (`param_serialize` + `call_api`), which keeps the kubeconfig's auth and TLS but
sends our dicts as they are: the typed models of kubernetes 37 drop unknown fields, and the
generated service-proxy call cannot carry the signed body `/sync` needs. No discovery calls:
the few kinds we manage have known paths, so an open costs five requests plus the wait.
"""

from __future__ import annotations

import base64
import builtins
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import kubernetes.client
import kubernetes.config
import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .. import oidc, routers
from .. import validation as check
from ..access import (
    SIGN_IN_CONFIGMAP,
    Access,
    SignIn,
    SignInRouter,
    describe_access,
    resolve_access,
)
from ..config import (
    CLUSTER_DEFAULTED,
    DEFAULTS_CONFIGMAP,
    Settings,
    needs_cluster_defaults,
    with_cluster_defaults,
)
from ..environment import Environment, Progress, Status, parse_time
from ..errors import (
    InputError,
    PreviewError,
    RolloutError,
    ServiceError,
    SyncError,
    UnknownCommitError,
)
from ..inputs import DEFAULTS, parse_kubeconfig
from ..naming import LABEL_INSTANCE, same_repository, selector_for
from ..protection import envoy_gap, istio_gap, looks_like_the_app
from ..render import (
    ALL_KINDS,
    ANNOTATION_PREFIX,
    GIT_TOKEN,
    KINDS,
    WEBHOOK_KEY,
    Waker,
    annotations_for,
    render_manifests,
)
from ..signing import status_request_headers, sync_request
from ..sleeping import ANNOTATION_SLEEP_AFTER, ANNOTATION_SLEEPING_SINCE, parse_sleep_after
from ..statusdoc import ActivityStatus, ReloaderStatus, as_status
from .base import (
    describe_sync,
    raise_if_setup_failed,
    wait_for_page,
    with_page,
)

logger = logging.getLogger(__name__)

FIELD_MANAGER = "streamlit-preview"
NO_KUBECONFIG = (
    "empty, and there is no in-cluster or local config: runs that get no secrets (Dependabot's,"
    " forks') have none; see docs/troubleshooting.md#the-kubeconfig-is-empty"
)
REQUEST_TIMEOUT_SECONDS = 30
SYNC_TIMEOUT_SECONDS = 120
POLL_SECONDS = 2.0
PROTECTION_WAIT_SECONDS = 30.0  # how long Envoy Gateway may take to accept a SecurityPolicy
PROBE_TIMEOUT_SECONDS = 5.0
# Pod waiting reasons that will not fix themselves: fail now instead of at the timeout.
HOPELESS_REASONS = {
    "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
    "CreateContainerError", "CrashLoopBackOff",
}  # fmt: skip
_PLURALS = {kind: (api, plural) for api, kind, plural in ALL_KINDS}


def _collection_path(api_version: str, plural: str, namespace: str) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{plural}"


def object_path(obj: dict[str, Any]) -> str:
    api, plural = _PLURALS[obj["kind"]]
    meta = obj["metadata"]
    return f"{_collection_path(api, plural, meta['namespace'])}/{meta['name']}"


class KubernetesBackend:
    name = "kubernetes"

    def __init__(self, api: kubernetes.client.ApiClient, *, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.requests = 0  # API requests made, for benchmarks and tests

    @classmethod
    def connect(
        cls, *, kubeconfig: dict | None, namespace: str, renew: Callable[[], str] | None = None
    ) -> KubernetesBackend:
        """Kubeconfig from the input, else in-cluster, else `KUBECONFIG` / ~/.kube/config.
        `renew`: a fresh bearer token (the workflow's OIDC token), asked before a request when
        the current one is about to expire (a long run outlives GitHub's short tokens)."""
        configuration = kubernetes.client.Configuration()
        try:
            if kubeconfig is not None:
                kubernetes.config.load_kube_config_from_dict(
                    kubeconfig, client_configuration=configuration
                )
            else:
                try:
                    kubernetes.config.load_incluster_config(client_configuration=configuration)
                except ConfigException:
                    path = Path(os.environ.get("KUBECONFIG") or Path.home() / ".kube" / "config")
                    if not path.is_file() or not path.read_text().strip():
                        raise InputError("kubeconfig", NO_KUBECONFIG) from None
                    kubernetes.config.load_kube_config(client_configuration=configuration)
        except (ConfigException, OSError, TypeError, KeyError, ValueError) as exc:
            raise InputError("kubeconfig", f"cannot load it: {exc}") from None
        configuration.retries = 3
        if renew is not None:
            configuration.refresh_api_key_hook = _renewing(renew)  # type: ignore[assignment]
        return cls(kubernetes.client.ApiClient(configuration), namespace=namespace)

    # -- HTTP ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        allow: tuple[int, ...] = (),
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> tuple[int, Any]:
        """One API request; statuses in `allow` are returned, other failures raised as ours."""
        self.requests += 1
        header_params = {"Accept": "application/json"} | (headers or {})
        try:
            serialized = self.api.param_serialize(
                method=method, resource_path=path, query_params=query or [],
                header_params=header_params, body=body, auth_settings=["BearerToken"],
            )  # fmt: skip
            response = self.api.call_api(*serialized, _request_timeout=timeout)
            raw = response.read()
        except ApiException as exc:
            status, raw = exc.status or 0, (exc.body or b"")
        except urllib3.exceptions.HTTPError as exc:
            host = self.api.configuration.host
            raise ServiceError(
                f"cannot reach the Kubernetes API at {host}: {type(exc).__name__}"
            ) from None
        else:
            status = response.status
        data = _json(raw)
        if 200 <= status < 300 or status in allow:
            return status, data
        message = data.get("message") if isinstance(data, dict) else str(raw[:200])
        hint = " (check the ServiceAccount's Role)" if status == 403 else ""
        raise ServiceError(f"Kubernetes {method} {path}: {status} {message}{hint}")

    def _apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        status, data = self._call(
            "PATCH", object_path(obj), body=obj,
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            headers={"Content-Type": "application/apply-patch+yaml"}, allow=(404,),
        )  # fmt: skip
        if status == 404:
            message = data.get("message", "not found") if isinstance(data, dict) else "not found"
            hint = routers.missing_kind_hint(obj["kind"])
            message += f" ({hint or f'does namespace {self.namespace} exist?'})"
            raise ServiceError(f"Kubernetes PATCH {object_path(obj)}: 404 {message}")
        return data

    def _get(self, kind: str, name: str) -> dict[str, Any] | None:
        api, plural = _PLURALS[kind]
        status, data = self._call(
            "GET", f"{_collection_path(api, plural, self.namespace)}/{name}", allow=(404,)
        )
        return None if status == 404 else data

    # -- verbs --------------------------------------------------------------------------

    def _read_secret(self, settings: Settings) -> dict[str, Any] | None:
        return self._get("Secret", settings.environment)

    def open(self, settings: Settings, *, progress: Progress) -> Environment:
        secret = self._read_secret(settings)
        self._check_owner(secret, settings)
        waker = self._waker()
        if settings.sleep_after is not None and waker is None:
            progress(f"{settings.environment}: this cluster declares no waker (the chart's receiver "
                     "on Traefik): it does not sleep")  # fmt: skip
            settings = replace(settings, sleep_after=None)
        plan = plan_open(settings, secret=secret, sign_in=self._sign_in(), waker=waker)
        self._carry_out(plan, settings, progress)
        if ((secret or {}).get("metadata", {}).get("annotations") or {}).get(
            ANNOTATION_SLEEPING_SINCE
        ):
            # `open` wakes a sleeping preview: the apply set one replica again.
            self._mark_sleeping(settings.environment, since=None)
            progress(f"{settings.environment} was asleep: woken")
        self._wait_for_rollout(settings, progress)
        self._verify_protection(plan, settings, progress)
        commit = None
        if settings.target.sha:
            commit = self._sync_when_serving(settings, plan.key, progress)["commit"]
        status = self._reloader_status(settings, key=plan.key) or self._reloader_status(settings)
        commit = commit or (status.get("commit") if status else None)
        raise_if_setup_failed(settings.environment, status, settings.url)
        for note in (status.get("notes") if status else None) or []:
            progress(f"{settings.environment}: {note}")
        opened = Environment.for_settings(
            settings, status=Status.RUNNING, commit=commit, namespace=self.namespace,
            access=plan.access.text, access_note=plan.access.describe(),
            sign_in_url=plan.sign_in.url if plan.sign_in else None,
        )  # fmt: skip
        return self._with_page(settings, plan.key, opened)

    def _verify_protection(self, plan: OpenPlan, settings: Settings, progress: Progress) -> None:
        """A protected preview is reported protected only once its protection is seen to act
        (protection.py); otherwise its route is withdrawn and the open fails with what is
        missing. Where this machine reaches the route, one anonymous request must not get the
        app."""
        if not plan.access.protected or plan.sign_in is None:
            return
        gap = None
        name = settings.environment
        if plan.sign_in.router is SignInRouter.ISTIO:
            gap = istio_gap(self._pods(name), self._get("Service", name))
        elif plan.sign_in.router is SignInRouter.ENVOY_GATEWAY:
            deadline = time.monotonic() + PROTECTION_WAIT_SECONDS
            gap = envoy_gap(self._get("SecurityPolicy", name))
            while gap and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                gap = envoy_gap(self._get("SecurityPolicy", name))
        if gap is None and settings.url:
            gap = _anonymous_gets_the_app(settings.url, progress)
        if gap is None:
            return
        for kind in KINDS:
            if kind.kind in routers.ROUTE_KINDS:
                self._delete_labelled(kind.api, kind.kind, kind.plural, name, progress)
        raise ServiceError(
            f"{name} is not protected ({plan.access.text}): {gap}; its route was withdrawn"
        )

    def _carry_out(self, plan: OpenPlan, settings: Settings, progress: Progress) -> None:
        """Apply the plan's objects in order; a new environment that fails half-way is
        removed; what an earlier open rendered and this one does not is pruned."""
        try:
            for obj in plan.objects:
                self._apply(obj)
                progress(f"applied {obj['kind']} {self.namespace}/{obj['metadata']['name']}")
        except ServiceError:
            if plan.new:  # leave nothing half-made behind
                progress(f"removing the partly created {settings.environment}")
                self.close(settings, progress=progress)
            raise
        if plan.prune:
            self._prune(settings.environment, plan.objects, progress)

    def _with_page(self, settings: Settings, key: str, environment: Environment) -> Environment:
        """Wait for the reloader's look at the page of this commit (check: page)."""
        if settings.check != "page":
            return environment
        page = wait_for_page(lambda: self._reloader_status(settings, key=key), environment.commit,
                             timeout=settings.check_timeout + 15)  # fmt: skip
        return with_page(environment, page)

    def sync(self, settings: Settings, *, progress: Progress) -> Environment | None:
        secret = self._read_secret(settings)
        self._check_owner(secret, settings)
        key = _webhook_key(secret)
        if key is None:
            return None
        annotations = (secret or {}).get("metadata", {}).get("annotations") or {}
        if annotations.get(ANNOTATION_SLEEPING_SINCE):  # a sync never wakes it; a visit does
            if settings.git_token:  # the wake clones with it
                self._put_git_token(settings.environment, settings.git_token)
            progress(
                f"{settings.environment} sleeps: it wakes on the next visit, at the branch head"
            )
            return Environment.for_settings(
                settings, status=Status.SLEEPING, commit=settings.target.sha, namespace=self.namespace,
                url=annotations.get(ANNOTATION_PREFIX + "url") or settings.url,
                sleeping_since=parse_time(annotations.get(ANNOTATION_SLEEPING_SINCE)),
            )  # fmt: skip
        if settings.git_token:
            self._refresh_git_token(settings, settings.git_token, progress)
        answer = self._sync_when_serving(settings, key, progress)
        progress(describe_sync(settings.environment, answer))
        self._extend_ttl(settings)
        access = annotations.get(ANNOTATION_PREFIX + "access")
        synced = Environment.for_settings(
            settings, status=Status.RUNNING, commit=answer["commit"], namespace=self.namespace,
            url=annotations.get(ANNOTATION_PREFIX + "url") or settings.url,
            branch=annotations.get(ANNOTATION_PREFIX + "branch") or settings.target.branch,
            access=access, access_note=describe_access(access, settings.target.repository),
            sign_in_url=annotations.get(ANNOTATION_PREFIX + "sign-in"),
            name=annotations.get(ANNOTATION_PREFIX + "name") or settings.name,
            pinned=annotations.get(ANNOTATION_PREFIX + "pinned") == "true",
            private=annotations.get(ANNOTATION_PREFIX + "private") == "true",
        )  # fmt: skip
        return self._with_page(settings, key, synced)

    def exists(self, settings: Settings) -> bool:
        return self._read_secret(settings) is not None

    def close(self, settings: Settings, *, progress: Progress) -> bool:
        self._check_owner(self._read_secret(settings), settings)
        return self.delete_environment(
            settings.environment, progress=progress, repository=settings.target.repository
        )

    def delete_environment(
        self, name: str, *, progress: Progress, repository: str | None = None
    ) -> bool:
        """Delete every object labelled with environment `name`; False when none existed.

        With `repository`, objects annotated with another repository are left alone.
        """
        deleted = 0
        for api, kind, plural in ALL_KINDS:
            deleted += self._delete_labelled(api, kind, plural, name, progress, repository)
        return deleted > 0

    def _check_owner(self, secret: dict[str, Any] | None, settings: Settings) -> None:
        """Refuse an environment whose objects belong to another repository."""
        owner = ((secret or {}).get("metadata", {}).get("annotations") or {}).get(
            ANNOTATION_PREFIX + "repository"
        )
        if owner and not same_repository(owner, settings.target.repository):
            raise ServiceError(
                f"{settings.environment} in {self.namespace} belongs to repository {owner}, "
                f"not {settings.target.repository}: refusing to touch it"
            )

    def collect_expired(
        self, *, now: datetime, dry_run: bool, progress: Progress
    ) -> list[Environment]:
        """Delete the environments whose `expires-at` annotation (from `ttl`) has passed."""
        expired = [env for env in self.list() if env.expires_at and env.expires_at <= now]
        for env in expired:
            progress(
                f"{env.environment} expired at {env.expires_at:%Y-%m-%d %H:%M} UTC"
                + (" (dry run)" if dry_run else "")
            )
            if not dry_run:
                self.delete_environment(env.environment, progress=progress)
        return expired

    def list(self) -> list[Environment]:
        _, data = self._call(
            "GET", _collection_path("apps/v1", "deployments", self.namespace),
            query=[("labelSelector", "app.kubernetes.io/managed-by=streamlit-preview")],
        )  # fmt: skip
        found = []
        for deployment in data.get("items", []):
            ready = (deployment.get("status") or {}).get("availableReplicas", 0) >= 1
            if (deployment.get("spec") or {}).get("replicas", 1) == 0:
                name = deployment["metadata"]["name"]
                secret = self._get("Secret", name) or {}
                since = ((secret.get("metadata") or {}).get("annotations") or {}).get(
                    ANNOTATION_SLEEPING_SINCE
                )
                env = _environment_of(deployment, status=Status.SLEEPING)
                found.append(replace(env, sleeping_since=parse_time(since)))
                continue
            found.append(
                _environment_of(deployment, status=Status.RUNNING if ready else Status.STARTING)
            )
        return found

    def with_page_states(
        self, environments: builtins.list[Environment]
    ) -> builtins.list[Environment]:
        """`app error` for the running previews whose page shows an exception: one `/status`
        per preview through the service proxy (the unsigned one: states only)."""
        marked = []
        for env in environments:
            report = None
            if env.status is Status.RUNNING:
                code, data = self._call(
                    "GET", f"/api/v1/namespaces/{self.namespace}/services/{quote(env.environment)}:control/proxy/status",
                    allow=(403, 404, 502, 503),
                )  # fmt: skip
                report = as_status(data) if code == 200 else None
            if report is None:
                marked.append(env)
                continue
            env = replace(env, synced_at=parse_time(report.get("synced_at")),
                          commit=report.get("commit") or env.commit)  # fmt: skip
            app_error = (report.get("page") or {}).get("state") == "app_error"
            marked.append(replace(env, status=Status.APP_ERROR) if app_error else env)
        return marked

    # -- pieces -------------------------------------------------------------------------

    def _delete_labelled(
        self, api: str, kind: str, plural: str, name: str, progress: Progress,
        repository: str | None = None, keep: set[tuple[str, str]] | frozenset = frozenset(),
    ) -> int:  # fmt: skip
        path = _collection_path(api, plural, self.namespace)
        status, data = self._call(
            "GET", path, query=[("labelSelector", selector_for(name))], allow=(404,)
        )
        if status == 404:  # this kind's CRD is not installed: nothing of it can exist
            return 0
        count = 0
        for item in data.get("items", []):
            item_name = item["metadata"]["name"]
            if (kind, item_name) in keep:
                continue
            owner = (item["metadata"].get("annotations") or {}).get(
                ANNOTATION_PREFIX + "repository"
            )
            if repository and owner and not same_repository(owner, repository):
                progress(f"left {kind} {self.namespace}/{item_name}: it belongs to {owner}")
                continue
            self._call(
                "DELETE", f"{path}/{item_name}", query=[("propagationPolicy", "Background")],
                allow=(404,),
            )  # fmt: skip
            progress(f"deleted {kind} {self.namespace}/{item_name}")
            count += 1
        return count

    def _merge_patch(self, kind: str, name: str, patch: dict[str, Any]) -> None:
        api, plural = _PLURALS[kind]
        self._call(
            "PATCH", f"{_collection_path(api, plural, self.namespace)}/{name}", body=patch,
            headers={"Content-Type": "application/merge-patch+json"},
        )  # fmt: skip

    def _refresh_git_token(self, settings: Settings, token: str, progress: Progress) -> None:
        """Put the job's fresh token in the Secret first: a pod that starts again (or never
        cloned: its first clone was refused) reads it from there. A pod stuck on a refused
        clone is replaced now instead of at its next back-off."""
        self._put_git_token(settings.environment, token)
        pods = self._pods(settings.environment)
        stuck = _termination_messages(pods) or [
            r for r in _waiting_reasons(pods) if r.startswith("CrashLoopBackOff")
        ]
        if stuck:
            progress(
                f"{settings.environment}: its pod failed ({stuck[0]}); starting it again with the fresh token"
            )
            for pod in pods:
                self._call("DELETE", f"/api/v1/namespaces/{self.namespace}/pods/{pod['metadata']['name']}",
                           allow=(404,))  # fmt: skip
            time.sleep(POLL_SECONDS)
            self._wait_for_rollout(settings, progress)

    def _extend_ttl(self, settings: Settings) -> None:
        """`ttl` counts from the last activity: every sync moves `expires-at`."""
        if not settings.ttl_seconds:
            return
        expires = annotations_for(settings)[ANNOTATION_PREFIX + "expires-at"]
        patch = {"metadata": {"annotations": {ANNOTATION_PREFIX + "expires-at": expires}}}
        for kind in ("Deployment", "Secret"):
            self._merge_patch(kind, settings.environment, patch)

    def _prune(
        self, name: str, rendered: builtins.list[dict[str, Any]], progress: Progress
    ) -> None:
        """Delete the routes and access objects an earlier open made and this one did not
        render (another router, `access: public` now), as Argo CD and Flux prune."""
        keep = {(obj["kind"], obj["metadata"]["name"]) for obj in rendered}
        for kind in KINDS:
            if kind.prunable:
                self._delete_labelled(kind.api, kind.kind, kind.plural, name, progress, keep=keep)

    def _defaults_configmap(self) -> dict[str, str]:
        status, data = self._call(
            "GET", f"/api/v1/namespaces/{self.namespace}/configmaps/{DEFAULTS_CONFIGMAP}",
            allow=(403, 404),
        )  # fmt: skip
        return (
            {k: str(v) for k, v in ((data or {}).get("data") or {}).items()}
            if status == 200
            else {}
        )

    def _waker(self) -> Waker | None:
        """The receiver's waker, where the cluster declares one (the chart on Traefik)."""
        return Waker.from_defaults(self._defaults_configmap())

    def cluster_defaults(self) -> dict[str, str]:
        """What the cluster says previews in this namespace use when a workflow or a command
        does not (`domain`, `router`, `gateway`): the chart's ConfigMap, or nothing."""
        found = self._defaults_configmap()
        return {key: found[key] for key in CLUSTER_DEFAULTED if found.get(key)}

    def _sign_in(self) -> SignIn | None:
        """The cluster's shared sign-in, from its ConfigMap; None where none is declared."""
        status, data = self._call(
            "GET", f"/api/v1/namespaces/{self.namespace}/configmaps/{SIGN_IN_CONFIGMAP}",
            allow=(404,),
        )  # fmt: skip
        if status == 404:
            return None
        return SignIn.from_configmap((data or {}).get("data") or {})

    def _rollout_ready(self, settings: Settings) -> bool:
        deployment = self._get("Deployment", settings.environment) or {}
        generation = deployment.get("metadata", {}).get("generation", 0)
        status = deployment.get("status") or {}
        return (
            status.get("observedGeneration", 0) >= generation
            and status.get("updatedReplicas", 0) >= 1
            and status.get("availableReplicas", 0) >= 1
            and status.get("unavailableReplicas", 0) == 0
        )

    def _check_pods(
        self, settings: Settings, started: float, progress: Progress, last_line: str
    ) -> str:
        """Report why the pod is not serving; fail at once on a hopeless reason or the timeout."""
        pods = self._pods(settings.environment)
        reported = _termination_messages(pods)
        if reported:  # the reloader's own report of a failure no retry can fix
            raise RolloutError(f"{settings.environment}: {reported[0]}")
        refused = None if pods else self._refusal(settings.environment)
        if refused:  # no pod at all: the quota or a LimitRange refused to create it
            raise RolloutError(f"{settings.environment}: no pod could be created: {refused}")
        reasons = _waiting_reasons(pods)
        hopeless = [r for r in reasons if r.split(":")[0] in HOPELESS_REASONS]
        elapsed = time.monotonic() - started
        line = f"waiting for {settings.environment}: " + (", ".join(reasons) or "pod starting")
        if line != last_line:
            progress(f"{line} ({elapsed:.0f} s)")
        if hopeless or elapsed > settings.wait_timeout:
            self._explain(pods, progress)
            why = "; ".join(hopeless or reasons) or "the pod never became ready"
            raise RolloutError(
                f"{settings.environment} did not become ready"
                + (f" within {settings.wait_timeout} s" if not hopeless else "")
                + f": {why}"
            )
        return line

    def _refusal(self, name: str) -> str | None:
        """Why the pod could not be created, from the Deployment's and its ReplicaSets'
        `ReplicaFailure` conditions (`FailedCreate`: a ResourceQuota exceeded, a LimitRange
        violated, an admission policy); None while nothing refused it."""
        deployment = self._get("Deployment", name) or {}
        found = [deployment]
        status, data = self._call(
            "GET", f"/apis/apps/v1/namespaces/{self.namespace}/replicasets",
            query=[("labelSelector", f"{LABEL_INSTANCE}={name}")], allow=(403, 404),
        )  # fmt: skip
        if status == 200 and isinstance(data, dict):
            found += data.get("items") or []
        for obj in found:
            for condition in (obj.get("status") or {}).get("conditions") or []:
                if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
                    message = (condition.get("message") or condition.get("reason") or "").strip()
                    return message.splitlines()[0] if message else "FailedCreate"
        return None

    def _wait_for_rollout(self, settings: Settings, progress: Progress) -> None:
        started = time.monotonic()
        last_line = ""
        while not self._rollout_ready(settings):
            last_line = self._check_pods(settings, started, progress, last_line)
            time.sleep(POLL_SECONDS)
        progress(f"{settings.environment} is ready after {time.monotonic() - started:.0f} s")

    def _pods(self, name: str) -> builtins.list[dict[str, Any]]:
        _, data = self._call(
            "GET", f"/api/v1/namespaces/{self.namespace}/pods",
            query=[("labelSelector", f"{LABEL_INSTANCE}={name}")],
        )  # fmt: skip
        return data.get("items", [])

    def _explain(self, pods: builtins.list[dict[str, Any]], progress: Progress) -> None:
        """Print recent events and the reloader's last log lines of each pod."""
        for pod in pods:
            pod_name = pod["metadata"]["name"]
            _, events = self._call(
                "GET", f"/api/v1/namespaces/{self.namespace}/events",
                query=[("fieldSelector", f"involvedObject.name={pod_name}")], allow=(403, 404),
            )  # fmt: skip
            for event in (events or {}).get("items", [])[-5:]:
                progress(f"  event {pod_name}: {event.get('reason')}: {event.get('message')}")
            status, log = self._call(
                "GET", f"/api/v1/namespaces/{self.namespace}/pods/{pod_name}/log",
                query=[("tailLines", "20"), ("container", "preview")],
                headers={"Accept": "*/*"}, allow=(400, 403, 404, 406),
            )  # fmt: skip
            if status == 200 and isinstance(log, str):
                for line in log.strip().splitlines()[-20:]:
                    progress(f"  log {pod_name}: {line}")

    def _sync_when_serving(
        self, settings: Settings, key: str, progress: Progress
    ) -> dict[str, Any]:
        """Sync; while the pod is not serving (restarting, rescheduled after a drain), wait.

        The API server answers 502/503 while the Service has no ready endpoint. Each attempt
        is signed anew (a fresh timestamp); a hopeless pod fails at once, with its events.
        """
        started = time.monotonic()
        delay, last_line = 0.5, ""
        while True:
            try:
                return self._post_sync(settings, key, settings.target.sha)
            except PodNotServingError:
                last_line = self._check_pods(settings, started, progress, last_line)
            time.sleep(delay)
            delay = min(delay * 2, POLL_SECONDS * 2)

    def _post_sync(self, settings: Settings, key: str, sha: str | None) -> dict[str, Any]:
        body, headers = sync_request(key.encode(), sha, git_token=settings.git_token)
        if settings.webhook_url:
            status, data = self._post_webhook(settings.webhook_url, body, headers)
        else:
            # Through the API server's service proxy: the control port is never public.
            # A non-JSON content type makes the client send our signed bytes untouched.
            headers = headers | {"Content-Type": "application/octet-stream"}
            status, data = self._call(
                "POST",
                f"/api/v1/namespaces/{self.namespace}/services/"
                f"{quote(settings.environment)}:control/proxy/sync",
                body=body, headers=headers, allow=(401, 409, 500, 502, 503, 504), timeout=SYNC_TIMEOUT_SECONDS,
            )  # fmt: skip
            if status >= 500 and not (isinstance(data, dict) and "error" in data):
                # Not the reloader's answer: the API server found no ready endpoint to proxy to.
                raise PodNotServingError(
                    f"{settings.environment}: the pod is not serving ({status})"
                )
        error = data.get("error") if isinstance(data, dict) else str(data)[:200]
        if status == 409:
            raise UnknownCommitError(f"{settings.environment}: {error}")
        if status != 200 or not isinstance(data, dict) or "commit" not in data:
            raise SyncError(f"{settings.environment}: sync answered {status}: {error}")
        if sha and data["commit"] != sha:
            logger.warning(
                "%s: asked for %s, the branch head is %s",
                settings.environment,
                sha[:12],
                data["commit"][:12],
            )
        return data

    def sync_to(
        self, environment: Environment, *, sha: str, git_token: str | None = None
    ) -> dict[str, Any]:
        """Sync at the pod itself, at a ready address of the Service's EndpointSlices, as a
        router reaches it (no API-server proxy: the receiver runs in the cluster)."""
        name = environment.environment
        key = _webhook_key(self._get("Secret", name))
        if key is None:
            raise SyncError(f"{name}: no webhook key (is it still open?)")
        address = self._control_address(name)
        body, headers = sync_request(key.encode(), sha, git_token=git_token)
        self.requests += 1
        try:
            response = httpx.post(f"http://{address}/sync", content=body, headers=headers,
                                  timeout=SYNC_TIMEOUT_SECONDS)  # fmt: skip
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"{name}: its pod at {address} did not answer: {type(exc).__name__}"
            ) from None
        data = _json(response.content)
        if response.status_code == 409:
            raise UnknownCommitError(
                f"{name}: {data.get('error') if isinstance(data, dict) else data}"
            )
        if response.status_code != 200 or not isinstance(data, dict) or "commit" not in data:
            raise SyncError(f"{name}: sync answered {response.status_code}")
        return data

    def activity(self, environment: Environment) -> ActivityStatus | None:
        """The reloader's `activity` in `/status` (unsigned), at the pod itself."""
        try:
            address = self._control_address(environment.environment)
            response = httpx.get(f"http://{address}/status", timeout=5)
        except (httpx.HTTPError, PreviewError):
            return None
        status = as_status(_json(response.content)) if response.status_code == 200 else None
        return status.get("activity") if status else None

    def sleep(self, environment: Environment) -> None:
        """Zero replicas through the scale subresource (the receiver's only right on
        Deployments besides reading them); the Secret says since when."""
        name = environment.environment
        self._scale(name, 0)
        self._mark_sleeping(name, since=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def wake(self, environment: Environment) -> bool:
        name = environment.environment
        status, data = self._call("GET", self._scale_path(name), allow=(404,))
        # A Scale omits `replicas` when it is zero.
        if status == 404 or ((data or {}).get("spec") or {}).get("replicas", 0) != 0:
            return False
        self._scale(name, 1)
        self._mark_sleeping(name, since=None)
        return True

    def _mark_sleeping(self, name: str, *, since: str | None) -> None:
        """The Secret says since when the preview sleeps (`None`: it is awake)."""
        patch = {"metadata": {"annotations": {ANNOTATION_SLEEPING_SINCE: since}}}
        self._merge_patch("Secret", name, patch)

    def _scale_path(self, name: str) -> str:
        return f"{_collection_path('apps/v1', 'deployments', self.namespace)}/{quote(name)}/scale"

    def _scale(self, name: str, replicas: int) -> None:
        self._call("PATCH", self._scale_path(name), body={"spec": {"replicas": replicas}},
                   headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip

    def store_git_token(self, environment: Environment, token: str) -> None:
        """Patch the preview's Secret: a pod that starts again (drain, eviction, spot node)
        mounts the fresh token instead of the job's dead one."""
        self._put_git_token(environment.environment, token)

    def _put_git_token(self, name: str, token: str) -> None:
        encoded = base64.b64encode(token.encode()).decode()
        self._merge_patch("Secret", name, {"data": {GIT_TOKEN: encoded}})

    def settle(self, environment: Environment, *, commit: str, timeout: float) -> Environment:
        """At the pod itself, as `sync_to` (the receiver runs in the cluster)."""
        name = environment.environment
        secret = self._get("Secret", name)
        key = _webhook_key(secret)
        if key is None:
            return environment
        annotations = (secret or {}).get("metadata", {}).get("annotations") or {}
        access = annotations.get(ANNOTATION_PREFIX + "access") or environment.access
        settled = replace(
            environment, commit=commit, status=Status.RUNNING, access=access,
            url=annotations.get(ANNOTATION_PREFIX + "url") or environment.url,
            access_note=describe_access(access, environment.repository or ""),
            sign_in_url=annotations.get(ANNOTATION_PREFIX + "sign-in"),
        )  # fmt: skip

        def detail() -> ReloaderStatus | None:
            try:
                address = self._control_address(name)
                response = httpx.get(f"http://{address}/status", params={"detail": "1"},
                                     headers=status_request_headers(key.encode()), timeout=5)  # fmt: skip
            except (httpx.HTTPError, PreviewError):
                return None
            return as_status(_json(response.content)) if response.status_code == 200 else None

        return with_page(settled, wait_for_page(detail, commit, timeout=timeout))

    def _control_address(self, name: str) -> str:
        """`ip:port` of the control port of a ready endpoint of the Service `name`."""
        _, data = self._call(
            "GET", f"/apis/discovery.k8s.io/v1/namespaces/{self.namespace}/endpointslices",
            query=[("labelSelector", f"kubernetes.io/service-name={name}")],
        )  # fmt: skip
        for endpoint_slice in data.get("items", []):
            ports = {p.get("name"): p.get("port") for p in endpoint_slice.get("ports") or []}
            for endpoint in endpoint_slice.get("endpoints") or []:
                ready = (endpoint.get("conditions") or {}).get("ready")
                if ready and endpoint.get("addresses") and ports.get("control"):
                    return f"{endpoint['addresses'][0]}:{ports['control']}"
        raise PodNotServingError(f"{name}: no ready pod behind its Service")

    def _reloader_status(
        self, settings: Settings, *, key: str | None = None
    ) -> ReloaderStatus | None:
        """The reloader's /status through the service proxy (None if it cannot be read); with
        `key`, its signed detail (`/status?detail=1`)."""
        status, data = self._call(
            "GET",
            f"/api/v1/namespaces/{self.namespace}/services/{quote(settings.environment)}:control/proxy/status",
            query=[("detail", "1")] if key else None,
            headers=status_request_headers(key.encode()) if key else None,
            allow=(401, 403, 404, 502, 503),
        )  # fmt: skip
        return as_status(data) if status == 200 else None

    def _post_webhook(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        self.requests += 1
        try:
            response = httpx.post(url, content=body, headers=headers, timeout=SYNC_TIMEOUT_SECONDS)
        except httpx.HTTPError as exc:
            raise ServiceError(f"webhook-url: cannot reach it: {type(exc).__name__}") from None
        return response.status_code, _json(response.content)


@dataclass(frozen=True)
class OpenPlan:
    """What an open applies, decided before anything is sent."""

    objects: list[dict[str, Any]]  # rendered and validated, in the order they are applied
    key: str  # the /sync key: the environment's own, or a new one
    access: Access  # who may see it, resolved against the cluster's sign-in
    sign_in: SignIn | None
    new: bool  # nothing of it exists yet: a failure removes what was applied
    prune: bool  # an earlier open may have rendered objects this one does not


def plan_open(
    settings: Settings, *, secret: dict[str, Any] | None, sign_in: SignIn | None,
    waker: Waker | None = None,
) -> OpenPlan:  # fmt: skip
    """The objects an open applies, from the settings and what the cluster already holds
    (the environment's Secret, the shared sign-in). No I/O."""
    annotations = ((secret or {}).get("metadata") or {}).get("annotations") or {}
    was = annotations.get(ANNOTATION_PREFIX + "access")
    if was and was != "public" and sign_in is None and settings.access is None:
        raise InputError(
            "access", f"this preview was protected ({was}) and the cluster's sign-in is gone "
            f"(ConfigMap {SIGN_IN_CONFIGMAP}): restore it, or say access: public to reopen it in public",
        )  # fmt: skip
    access = resolve_access(
        settings.access, sign_in=sign_in, repository=settings.target.repository,
        owner_is_org=settings.target.owner_is_org,
    )  # fmt: skip
    key = _webhook_key(secret) or secrets.token_hex(32)
    objects = render_manifests(settings, webhook_key=key, access=access, sign_in=sign_in,
                               waker=waker)  # fmt: skip
    previous_router = annotations.get(ANNOTATION_PREFIX + "router")
    return OpenPlan(objects, key, access, sign_in, new=secret is None,
                    prune=secret is not None or bool(previous_router))  # fmt: skip


class PodNotServingError(SyncError):
    """The API server could not reach a ready pod behind the Service (502/503): wait and retry."""


def _renewing(renew: Callable[[], str]) -> Callable[[kubernetes.client.Configuration], None]:
    """A hook the client calls before each request (the kubeconfig loader's own only
    reloads the same token): the token is replaced shortly before it expires."""

    def refresh(configuration: kubernetes.client.Configuration) -> None:
        current = configuration.api_key.get("BearerToken", "").removeprefix("Bearer ")
        if oidc.expires_soon(current, now=time.time()):
            configuration.api_key["BearerToken"] = f"Bearer {renew()}"

    return refresh


def _anonymous_gets_the_app(url: str, progress: Progress) -> str | None:
    """One request without credentials through the route: None unless it got the app."""
    try:
        answer = httpx.get(url, timeout=PROBE_TIMEOUT_SECONDS, follow_redirects=False,
                           verify=False, trust_env=False)  # fmt: skip  # no credentials are sent
    except httpx.HTTPError:
        progress(f"{url} is not reachable from here: the anonymous check was skipped")
        return None
    if looks_like_the_app(answer.status_code, answer.text):
        return f"an anonymous request to {url} got the app"
    return None


def _json(raw: bytes | str | None) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _webhook_key(secret: dict[str, Any] | None) -> str | None:
    encoded = ((secret or {}).get("data") or {}).get(WEBHOOK_KEY)
    return base64.b64decode(encoded).decode() if encoded else None


def _termination_messages(pods: list[dict[str, Any]]) -> list[str]:
    """What the reloader wrote to its termination log before it stopped, per container."""
    messages = []
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            for state in (container.get("state") or {}, container.get("lastState") or {}):
                message = ((state.get("terminated") or {}).get("message") or "").strip()
                if message:
                    messages.append(message.splitlines()[-1])
    return messages


def _waiting_reasons(pods: list[dict[str, Any]]) -> list[str]:
    reasons = []
    for pod in pods:
        for condition in (pod.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                # e.g. "0/3 nodes are available: 3 node(s) had untolerated taint {pool: spot}"
                reasons.append(
                    f"{condition.get('reason') or 'Unschedulable'}: {condition.get('message', '')}".strip()
                )
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting")
            if waiting and waiting.get("reason") not in (
                None,
                "ContainerCreating",
                "PodInitializing",
            ):
                message = (waiting.get("message") or "").splitlines()[0:1]
                reasons.append(": ".join([waiting["reason"], *message]))
    return reasons


def _environment_of(obj: dict[str, Any], *, status: Status) -> Environment:
    meta = obj.get("metadata", {})
    annotations = meta.get("annotations") or {}
    pr = annotations.get(ANNOTATION_PREFIX + "pr")
    expires = annotations.get(ANNOTATION_PREFIX + "expires-at")
    return Environment(
        environment=meta.get("name", ""), url=annotations.get(ANNOTATION_PREFIX + "url") or None,
        commit=annotations.get(ANNOTATION_PREFIX + "sha") or None, status=status,
        namespace=meta.get("namespace"), branch=annotations.get(ANNOTATION_PREFIX + "branch"),
        pr=int(pr) if pr and pr.isdigit() else None,
        repository=annotations.get(ANNOTATION_PREFIX + "repository"),
        expires_at=_parse_time(expires), name=annotations.get(ANNOTATION_PREFIX + "name"),
        access=annotations.get(ANNOTATION_PREFIX + "access"),
        pinned=annotations.get(ANNOTATION_PREFIX + "pinned") == "true",
        private=annotations.get(ANNOTATION_PREFIX + "private") == "true",
        created_at=parse_time(meta.get("creationTimestamp")),
        sleep_after=parse_sleep_after(annotations.get(ANNOTATION_SLEEP_AFTER)),
    )  # fmt: skip


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


# -- the fronts' cluster credential and defaults ------------------------------------------


def cluster_credential(
    inputs: Mapping[str, str], environ: Mapping[str, str], *, mask: Callable[[str], None],
    label: Callable[[str], str] = lambda name: name,
) -> tuple[dict | None, Callable[[], str] | None]:  # fmt: skip
    """The cluster credential: the `kubeconfig` input, else (with `cluster-url`) a kubeconfig
    around the workflow's OIDC token, with how to get a fresh one; else None (in-cluster
    config, then $KUBECONFIG). `label` names an input in errors (the CLI's flags)."""
    if inputs.get("kubeconfig", "").strip():
        return parse_kubeconfig(label("kubeconfig"), inputs["kubeconfig"]), None
    if not inputs.get("cluster-url", "").strip():
        return None, None
    server = check.api_server_url(label("cluster-url"), inputs["cluster-url"])
    ca = (
        check.ca_pem(label("cluster-ca"), inputs["cluster-ca"])
        if inputs.get("cluster-ca")
        else None
    )
    audience = check.audience(
        label("oidc-audience"), inputs.get("oidc-audience") or DEFAULTS["oidc-audience"]
    )

    def fresh_token() -> str:
        token = oidc.request_token(environ, audience)
        mask(token)
        return token

    namespace = inputs.get("namespace") or DEFAULTS["namespace"]
    kubeconfig = oidc.kubeconfig(server=server, ca_pem=ca, token=fresh_token(), namespace=namespace)
    return kubeconfig, fresh_token


def with_defaults_of(
    inputs: dict[str, str], kubeconfig: dict | None, renew: Callable[[], str] | None = None
) -> dict[str, str]:
    """`inputs` with the cluster's defaults (domain, router, gateway) where they are empty."""
    if not needs_cluster_defaults(inputs):
        return inputs
    namespace = inputs.get("namespace") or DEFAULTS["namespace"]
    try:
        backend = KubernetesBackend.connect(kubeconfig=kubeconfig, namespace=namespace, renew=renew)
        found = backend.cluster_defaults()
    except InputError:  # no cluster credential at all: the settings say what is missing
        return inputs
    return with_cluster_defaults(inputs, found)
