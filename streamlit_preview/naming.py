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


_OWNER_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+)$")
_PLAIN_OWNER = re.compile(r"^[a-z0-9]+$")
_PLAIN_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$")


def repository_slug(repository: str) -> str:
    """The last path segment of a repository (owner/name, URL or path), without `.git`."""
    name = repository.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name.removesuffix(".git") or "app"


def _owner_and_name(repository: str) -> tuple[str, str, bool]:
    """(owner, name, exact): exact when `repository` is GitHub's `owner/name` itself."""
    match = _OWNER_NAME.match(repository.strip())
    if match:
        return match.group(1).lower(), match.group(2).lower().removesuffix(".git"), True
    parts = [p for p in re.split(r"[/:]", repository.rstrip("/")) if p]
    owner = parts[-2].lower() if len(parts) >= 2 else ""
    return owner, repository_slug(repository).lower(), False


_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://(?:[^@/]*@)?|[^@/:]+@)([^/:]+)(?::\d+)?[/:](.*)$", re.I)


def repository_key(repository: str) -> str:
    """One spelling per repository: `host/owner/name` for URLs (host and all lower-cased,
    no `.git`, no trailing slash), `owner/name` lower-cased for GitHub's own names, the
    path otherwise. `https://Host/o/r`, `…/o/r.git/` and `git@host:o/r` are one repository."""
    text = repository.strip()
    if _OWNER_NAME.match(text):
        return text.lower().removesuffix(".git")
    match = _URL.match(text)
    if match and not text.startswith("file:"):
        host, path = match.groups()
        return f"{host.lower()}/{path.strip('/').removesuffix('.git').rstrip('/').lower()}"
    return text.rstrip("/").removesuffix(".git")


def github_full_name(url: str, server_url: str | None = None) -> str | None:
    """`owner/name` of a GitHub repository URL (github.com, or the `server_url` of GitHub
    Enterprise), so the command line names a preview as the action does; None otherwise."""
    match = _URL.match(url.strip())
    if not match or url.startswith("file:"):
        return None
    hosts = {"github.com"}
    server = _URL.match(server_url.rstrip("/") + "/") if server_url else None
    if server:
        hosts.add(server.group(1).lower())
    host, path = match.groups()
    parts = path.strip("/").removesuffix(".git").split("/")
    if host.lower() not in hosts or len(parts) != 2:
        return None
    full_name = "/".join(parts)
    return full_name if _OWNER_NAME.match(full_name) else None


def same_repository(a: str, b: str) -> bool:
    """True when `a` and `b` name one repository; `owner/name` matches any host's URL of it."""
    key_a, key_b = repository_key(a), repository_key(b)
    if key_a == key_b:
        return True
    short, long = sorted((key_a, key_b), key=len)
    return bool(_OWNER_NAME.match(short)) and long.endswith("/" + short) and long.count("/") == 2


def owner_of(repository: str) -> str:
    """The owner (user or organisation) of `owner/name` or of a repository URL; "" if none."""
    return _owner_and_name(repository)[0]


def environment_name(repository: str, pr: int, name: str | None = None) -> str:
    """`<owner>-<repo>[-<name>]-pr-<N>` as a DNS-1035 label, unique per repository and name.

    Where that spelling could be shared (characters DNS drops, a hyphen that could be the
    owner/name separator, a URL or path rather than `owner/name`, a name too long), a short
    hash of the full repository (lower-cased: GitHub's names ignore case) goes before `-pr-N`.
    """
    owner, repo, exact = _owner_and_name(repository)
    suffix = f"-pr-{pr}"
    parts = [p for p in (owner, repo, (name or "").lower()) if p]
    base = re.sub("-+", "-", _NOT_ALLOWED.sub("-", "-".join(parts))).strip("-")
    lossless = exact and bool(_PLAIN_OWNER.match(owner)) and bool(_PLAIN_NAME.match(repo))
    if name is not None:
        # `octo/shop` named `dashboard` must not read like the repository `octo/shop-dashboard`:
        # a named preview always carries the hash.
        lossless = False
    if not base or not base[0].isalpha():
        base, lossless = f"app-{base}".rstrip("-"), False
    if lossless and len(base + suffix) <= MAX_LABEL:
        return base + suffix
    identity = repository_key(repository).lower() + (f"\0{name}" if name is not None else "")
    digest = hashlib.sha256(identity.encode()).hexdigest()[:6]
    keep = MAX_LABEL - len(suffix) - len(digest) - 1
    return f"{base[:keep].rstrip('-')}-{digest}{suffix}"


def host_for(environment: str, domain: str) -> str:
    return f"{environment}.{domain}"


LABEL_REPOSITORY = "streamlit-preview.dev/repository"
LABEL_PR = "streamlit-preview.dev/pr"
LABEL_APP = "streamlit-preview.dev/app"
DEFAULT_APP = "default"
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def label_value(text: str) -> str:
    """`text` as a Kubernetes label value: `owner/name` becomes `owner.name` (GitHub owners
    have no dot, so the first dot splits it back); other characters become `_`; longer than
    63 characters, it is cut and a short hash keeps it unique."""
    value = re.sub(r"[^-A-Za-z0-9_.]", "_", text.replace("/", ".", 1)).strip("-_.")
    if len(value) > MAX_LABEL:
        digest = hashlib.sha256(text.encode()).hexdigest()[:6]
        value = value[: MAX_LABEL - 7].rstrip("-_.") + "-" + digest
    return value if _LABEL_VALUE.match(value) else hashlib.sha256(text.encode()).hexdigest()[:12]


def labels_for(
    environment: str, *, repository: str | None = None, pr: int | None = None,
    app: str | None = None,
) -> dict[str, str]:  # fmt: skip
    """The labels every object carries: `close` deletes by the first two; the repository,
    pull request and app name are for cost tools (OpenCost, Kubecost) and for people."""
    labels = {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_INSTANCE: environment,
        LABEL_NAME: "streamlit-preview",
    }
    if repository:
        labels[LABEL_REPOSITORY] = label_value(repository)
    if pr is not None:
        labels[LABEL_PR] = str(pr)
    if repository or pr is not None:
        labels[LABEL_APP] = label_value(app or DEFAULT_APP)
    return labels


def selector_for(environment: str) -> str:
    return f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_INSTANCE}={environment}"
