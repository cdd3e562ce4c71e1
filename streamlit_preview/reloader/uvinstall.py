"""Installs with uv: pip's result in a fraction of pip's time.

uv does not see packages that reach an environment through a `.pth` file (the image's, here),
so pointing it at the app environment as pip is would install a second copy of everything the
image already has. Instead:

1. `uv pip compile` resolves the requirements for the app environment's interpreter,
   preferring the versions the environment already sees (its own, then the image's): pip's
   "only if needed" upgrade strategy;
2. `uv pip install --no-deps` installs just the resolved packages the environment lacks.

What uv cannot do the way pip would (hash-checking mode, a pip setting uv has no equivalent
for) raises `UvUnavailable`; so does any uv failure. The caller then installs with pip, so the
result and the error messages stay pip's.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

# pip settings (config keys, or PIP_* variables without the prefix) → the uv variable that
# does the same; None: no effect on what gets installed.
_PIP_TO_UV = {
    "index-url": "UV_INDEX_URL",
    "extra-index-url": "UV_EXTRA_INDEX_URL",
    "find-links": "UV_FIND_LINKS",
    "cert": "SSL_CERT_FILE",
    "timeout": "UV_HTTP_TIMEOUT",
    "default-timeout": "UV_HTTP_TIMEOUT",
    "disable-pip-version-check": None,
    "no-input": None,
    "progress-bar": None,
    "root-user-action": None,
    "no-warn-script-location": None,
}
_HASH_MODE = re.compile(r"--hash\b|--require-hashes\b")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


class UvUnavailable(Exception):
    """uv cannot install these requirements exactly as pip would; the message says why."""


def uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        raise UvUnavailable("uv is not installed") from None
    try:
        return find_uv_bin()
    except FileNotFoundError:
        raise UvUnavailable("uv's binary is missing") from None


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install(
    python: str,
    requirements: Path,
    visible: Mapping[str, str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
) -> tuple[list[str], set[str]]:
    """Install `requirements` into the environment of `python`, which already sees `visible`
    (normalised name → version). Returns the requirement lines that were installed, and the
    normalised names of every package the resolution needs (installed or already seen)."""
    if _HASH_MODE.search(requirements.read_text()):
        raise UvUnavailable("hash-checking mode")
    uv = uv_binary()
    uv_env = _uv_environment(env, prefix=Path(python).parent.parent)
    resolved = requirements.with_name("resolved.txt")
    # An existing output file gives uv its preferred versions: what the environment has.
    resolved.write_text("".join(f"{n}=={v}\n" for n, v in sorted(visible.items())))
    _run([uv, "pip", "compile", str(requirements), "--python", python,
          "--output-file", str(resolved), "--no-header", "--no-annotate", "--quiet",
          "--emit-index-url", "--emit-find-links"], cwd=cwd, env=uv_env, timeout=timeout)  # fmt: skip
    lines = [ln.strip() for ln in resolved.read_text().splitlines() if ln.strip()]
    names = (_NAME.match(ln) for ln in lines if not ln.startswith("--"))
    needed = {normalise(match[0]) for match in names if match}
    wanted = [ln for ln in lines if not ln.startswith("--") and _lacking(ln, visible)]
    if not wanted:
        return [], needed
    missing = requirements.with_name("missing.txt")
    missing.write_text("\n".join([ln for ln in lines if ln.startswith("--")] + wanted) + "\n")
    _run([uv, "pip", "install", "--no-deps", "--python", python, "-r", str(missing)],
         cwd=cwd, env=uv_env, timeout=timeout)  # fmt: skip
    return wanted, needed


def uninstall(python: str, names: list[str], *, cwd: Path, env: Mapping[str, str],
              timeout: float) -> None:  # fmt: skip
    """Remove `names` from the environment of `python` itself (uv never sees, so never
    touches, what the environment only sees through a `.pth` file: the image's packages)."""
    uv_env = _uv_environment(env, prefix=Path(python).parent.parent)
    _run([uv_binary(), "pip", "uninstall", "--python", python, *names],
         cwd=cwd, env=uv_env, timeout=timeout)  # fmt: skip


def _lacking(line: str, visible: Mapping[str, str]) -> bool:
    pinned = _PINNED.match(line)
    if pinned is None:  # a direct reference, an editable: install it, as pip does
        return True
    return visible.get(normalise(pinned[1])) != pinned[2]


def _run(command: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> None:
    try:
        result = subprocess.run(
            command, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UvUnavailable(f"uv did not run: {exc}") from None
    for line in (result.stdout + result.stderr).splitlines():
        logger.debug("[uv] %s", line)
    if result.returncode != 0:
        last = next((ln for ln in reversed(result.stderr.splitlines()) if ln.strip()), "")
        raise UvUnavailable(f"uv {command[2]} exited with {result.returncode}: {last[:200]}")


def _uv_environment(env: Mapping[str, str], *, prefix: Path) -> dict[str, str]:
    """`env` with pip's settings translated for uv; `UvUnavailable` for one it cannot take."""
    translated = {k: v for k, v in env.items() if not k.startswith(("PIP_", "UV_"))}
    for key, value in _pip_settings(env, prefix=prefix).items():
        if key not in _PIP_TO_UV:
            raise UvUnavailable(f"pip setting {key!r} has no uv equivalent")
        target = _PIP_TO_UV[key]
        if target:
            translated[target] = " ".join(value.split())
    # Only the settings above: never a uv.toml from the app's repository or the machine.
    return translated | {
        "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1",
    }  # fmt: skip


def _pip_settings(env: Mapping[str, str], *, prefix: Path) -> dict[str, str]:
    """pip's own configuration as pip reads it: files, then PIP_* variables (the later wins);
    within a file, `[install]` over `[global]`."""
    home = Path(env.get("HOME", "~")).expanduser()
    xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    files = [Path("/etc/xdg/pip/pip.conf"), Path("/etc/pip.conf"), home / ".pip" / "pip.conf",
             xdg / "pip" / "pip.conf", prefix / "pip.conf"]  # fmt: skip
    chosen = env.get("PIP_CONFIG_FILE")
    if chosen == os.devnull:
        files = []
    elif chosen:
        files.append(Path(chosen))
    settings: dict[str, str] = {}
    for file in files:
        parser = configparser.RawConfigParser()
        try:
            parser.read(file)
        except configparser.Error:
            raise UvUnavailable(f"cannot read pip's configuration {file}") from None
        for section in ("global", "install"):
            if parser.has_section(section):
                settings |= {k.replace("_", "-"): v for k, v in parser.items(section)}
    for key, value in env.items():
        if key.startswith("PIP_") and key != "PIP_CONFIG_FILE":
            settings[key[4:].lower().replace("_", "-")] = value
    return settings
