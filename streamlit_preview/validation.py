"""Small pure validators shared by every front; each raises `InputError(name, expected)`."""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
from urllib.parse import urlsplit

from .errors import InputError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SHA = re.compile(r"^[0-9a-f]{40}$")


def branch(name: str, value: str) -> str:
    """A git branch name as `git check-ref-format --branch` would accept it."""
    bad = (
        not value or value.startswith(("-", "/")) or value.endswith((".lock", "/", "."))
        or ".." in value or "@{" in value or "//" in value
        or any(ch in value for ch in " ~^:?*[\\\n\r\t\0\x7f")
    )  # fmt: skip
    if bad:
        raise InputError(name, f"expected a git branch name, got {value!r}")
    return value


def duration(name: str, value: str, *, allow_zero: bool = False) -> int:
    """Seconds from `90`, `90s`, `15m`, `12h` or `7d`."""
    match = _DURATION.match(value)
    if not match:
        raise InputError(name, f"expected a duration such as 300, 15m, 12h or 7d, got {value!r}")
    seconds = int(float(match.group(1)) * _UNITS[match.group(2)])
    if seconds <= 0 and not allow_zero:
        raise InputError(name, f"expected a duration above zero, got {value!r}")
    return seconds


def sleep_after(name: str, value: str) -> int | None:
    """`sleep-after`: a duration, or `never` (None)."""
    if value.strip().lower() == "never":
        return None
    if not _DURATION.match(value.strip()):
        raise InputError(name, f"expected a duration such as 30m or 2h, or never, got {value!r}")
    return duration(name, value.strip())


def boolean(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise InputError(name, f"expected true or false, got {value!r}")


def quantity(name: str, value: str) -> str:
    if not _QUANTITY.match(value.strip()):
        raise InputError(
            name, f"expected a Kubernetes quantity such as 500m, 2 or 1Gi, got {value!r}"
        )
    return value.strip()


def whole_number(name: str, value: str) -> int:
    if not value.strip().isdigit():
        raise InputError(name, f"expected a whole number 0 or more, got {value!r}")
    return int(value.strip())


def positive_int(name: str, value: str) -> int:
    if not value.strip().isdigit() or int(value) <= 0:
        raise InputError(name, f"expected a positive whole number, got {value!r}")
    return int(value.strip())


# Set by the rendered Deployment itself.
RESERVED_ENV = frozenset({"HOME"})
# C0 controls but tab, DEL, C1 controls: Kubernetes accepts them, YAML and people do not.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def env_lines(name: str, value: str) -> dict[str, str]:
    """`KEY=VALUE` lines (blank lines and `#` comments skipped); keys are variable names."""
    result: dict[str, str] = {}
    for number, line in enumerate(value.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, val = line.partition("=")
        key = key.strip()
        if not sep or not _ENV_NAME.match(key):
            raise InputError(name, f"line {number}: expected KEY=VALUE with KEY a variable name")
        if key.startswith("PREVIEW_") or key in RESERVED_ENV:
            raise InputError(name, f"line {number}: {key} is reserved for the reloader")
        if key in result:
            raise InputError(name, f"line {number}: {key} is set twice; set it once")
        bad = _CONTROL.search(val)
        if bad:
            raise InputError(
                name, f"line {number}: the value of {key} has a control character "
                f"(U+{ord(bad.group()):04X}); expected printable text",
            )  # fmt: skip
        result[key] = val
    return result


def distinct_names(first: str, one: dict[str, str], second: str, other: dict[str, str]) -> None:
    """The same variable in two inputs would be set twice in the pod: one clear line instead."""
    both = sorted(set(one) & set(other))
    if both:
        raise InputError(second, f"{both[0]} is also set in {first}; set each variable once")


def label_lines(name: str, value: str) -> dict[str, str]:
    """`key=value` lines of Kubernetes label keys and values (node selectors)."""
    result: dict[str, str] = {}
    for number, line in enumerate(value.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, val = (part.strip() for part in line.partition("="))
        prefix, slash, label = key.rpartition("/")
        valid_key = _LABEL_NAME.match(label) and (
            not slash or (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix))
        )
        if not sep or not valid_key or not _LABEL_VALUE.match(val):
            raise InputError(name, f"line {number}: expected key=value with a label key and value")
        result[key] = val
    return result


_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def taint_lines(name: str, value: str) -> list[dict[str, str]]:
    """`key[=value]:Effect` lines (`kubectl taint` syntax) as tolerations; no value: any value."""
    tolerations = []
    for number, line in enumerate(value.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        taint, colon, effect = line.rpartition(":")
        if not colon or effect not in _TAINT_EFFECTS:
            raise InputError(
                name,
                f"line {number}: expected key[=value]:Effect with Effect one of {', '.join(_TAINT_EFFECTS)}",
            )
        key, equals, val = taint.partition("=")
        prefix, slash, label = key.rpartition("/")
        valid_key = _LABEL_NAME.match(label) and (not slash or _DNS_SUBDOMAIN.match(prefix))
        if not valid_key or (equals and not _LABEL_VALUE.match(val)):
            raise InputError(
                name, f"line {number}: expected key[=value]:Effect with a label key and value"
            )
        toleration = {"key": key, "operator": "Equal" if equals else "Exists", "effect": effect}
        if equals:
            toleration["value"] = val
        tolerations.append(toleration)
    return tolerations


_PREVIEW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,29}$")


def preview_name(name: str, value: str) -> str:
    """A short word that tells apart several previews of one pull request (one per app)."""
    if not _PREVIEW_NAME.match(value):
        raise InputError(name, f"expected up to 30 letters, digits, '.', '_' or '-', got {value!r}")
    return value


def no_control(name: str, value: str) -> str:
    """Text without control characters (newlines and tabs allowed)."""
    bad = re.search("[\x00-\x08\x0b-\x1f\x7f]", value)
    if bad:
        raise InputError(
            name, f"has a control character (U+{ord(bad.group()):04X}); expected printable text"
        )
    return value


def toml_text(name: str, value: str) -> str:
    """TOML (what `st.secrets` reads); an error names the line, never the content."""
    try:
        tomllib.loads(value)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"line (\d+)", str(exc))
        line = f" at line {where.group(1)}" if where else ""
        raise InputError(
            name, f"expected TOML; it is not valid TOML{line} (content not shown)"
        ) from None
    return value


def dns_subdomain(name: str, value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise InputError(
            name, f"expected a Kubernetes object name (a DNS subdomain), got {value!r}"
        )
    return value


def http_url(name: str, value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(name, f"expected an http(s) URL, got {value!r}")
    return value.strip()


def https_url(name: str, value: str) -> str:
    """An https URL: what carries a credential (the git token) must not travel in clear."""
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise InputError(name, f"expected an https URL (it carries the git token), got {value!r}")
    return value.strip()


def api_server_url(name: str, value: str) -> str:
    """The Kubernetes API server's https URL (what the workflow's token is sent to)."""
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
        raise InputError(
            name,
            f"expected the API server's https URL, e.g. https://203.0.113.10:6443, got {value!r}",
        )
    return value.strip().rstrip("/")


def ca_pem(name: str, text: str) -> str:
    """A CA bundle as PEM text, given as PEM or as base64 of PEM."""
    stripped = text.strip()
    if "-----BEGIN CERTIFICATE-----" not in stripped:
        try:
            stripped = base64.b64decode(stripped, validate=True).decode().strip()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            stripped = ""
    if "-----BEGIN CERTIFICATE-----" not in stripped:
        raise InputError(name, "expected the API server's CA certificate (PEM, or its base64)")
    return stripped + "\n"


def audience(name: str, value: str) -> str:
    """An OIDC audience: one printable word, as the API server's configuration names it."""
    text = value.strip()
    if not text or len(text) > 256 or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise InputError(
            name, f"expected one audience word such as streamlit-preview, got {value!r}"
        )
    return text


def domain(name: str, value: str) -> str:
    lowered = value.strip().lower().rstrip(".")
    if len(lowered) > 190 or not _DNS_SUBDOMAIN.match(lowered):
        raise InputError(name, f"expected a DNS domain such as previews.example.com, got {value!r}")
    return lowered


def dns_label(name: str, value: str) -> str:
    if not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", value):
        raise InputError(
            name, f"expected a DNS label (lower-case letters, digits, '-'), got {value!r}"
        )
    return value


def choice(name: str, value: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise InputError(name, f"expected one of {', '.join(options)}, got {value!r}")
    return value


def commit_sha(name: str, value: str) -> str:
    if not SHA.match(value):
        raise InputError(name, f"expected a 40-character hex commit id, got {value!r}")
    return value
