"""Environment names, hosts and labels: DNS-safe for any repository name and PR number.

Branch names never go into object names (slashes, dots and length broke the program this
grew from); they only appear in annotations. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import re

MAX_LABEL = 63
MANAGED_BY = "streamlit-preview"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_NAME = "app.kubernetes.io/name"
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]+")
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def repository_slug(repository: str) -> str:
    """The last path segment of a repository (owner/name, URL or path), without `.git`."""
    name = repository.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name.removesuffix(".git") or "app"


def environment_name(repository: str, pr: int) -> str:
    """`<repo>-pr-<N>` as a DNS-1035 label; long names keep a hash of the full repository."""
    suffix = f"-pr-{pr}"
    base = _NOT_ALLOWED.sub("-", repository_slug(repository).lower()).strip("-")
    if not base or not base[0].isalpha():
        base = f"app-{base}".rstrip("-")
    name = base + suffix
    if len(name) <= MAX_LABEL:
        return name
    digest = hashlib.sha256(repository.encode()).hexdigest()[:6]
    keep = MAX_LABEL - len(suffix) - len(digest) - 1
    return f"{base[:keep].rstrip('-')}-{digest}{suffix}"


def host_for(environment: str, domain: str) -> str:
    return f"{environment}.{domain}"


def labels_for(environment: str) -> dict[str, str]:
    """The labels every object carries; `close` deletes by exactly these."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_INSTANCE: environment,
        LABEL_NAME: "streamlit-preview",
    }


def selector_for(environment: str) -> str:
    return f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_INSTANCE}={environment}"
