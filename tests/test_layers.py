"""One door per service: each foreign library is imported by exactly one module (kopf's
import-linter rule, as a test)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "streamlit_preview"
DOORS = {
    "kubernetes": {"backends/kubernetes.py"},
    "git": {"reloader/gitsync.py"},
    "jinja2": {"render.py"},
    # Two HTTP servers: the reloader's control port, and the webhook receiver (`hook`).
    "uvicorn": {"reloader/server.py", "hook.py"},
    "starlette": {"reloader/control.py", "hook.py"},
    "psutil": {"reloader/viewers.py"},
    "uv": {"reloader/uvinstall.py"},
    "tenacity": {"github.py"},
    "jwt": {"github.py"},
    "websockets": {"reloader/pagecheck.py"},
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_each_library_has_one_door():
    users: dict[str, set[str]] = {library: set() for library in DOORS}
    for path in PACKAGE.rglob("*.py"):
        for library in _imports(path) & set(DOORS):
            users[library].add(path.relative_to(PACKAGE).as_posix())
    assert users == DOORS


def test_pure_core_does_no_io():
    for module in ("naming.py", "signing.py", "render.py", "validation.py", "lifecycle.py"):
        imported = _imports(PACKAGE / module)
        assert not imported & {"subprocess", "httpx", "socket", "kubernetes", "git"}, module
