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


# The package's internal order, top to bottom: a module may import from its own layer and the
# layers below, never from one above (kopf's `.importlinter` layers, as a test).
LAYERS = (
    ("fronts", {"cli", "action", "hook", "demo", "__main__"}),
    ("lifecycle", {"lifecycle", "reporting"}),
    ("backends", {"backends", "render", "github", "runner", "oidc"}),
    (
        "core",
        {
            "config",
            "inputs",
            "validation",
            "naming",
            "signing",
            "environment",
            "errors",
            "redact",
            "versions",
            "processes",
            "webhooks",
            "decide",
            "bodies",
            "argparsing",
            "access",
            "routers",
            "statusdoc",
            "cookies",
            "protection",
            "sleeping",
        },
    ),
)
RELOADER_MAY_NOT = {
    "backends",
    "lifecycle",
    "reporting",
    "render",
    "github",
    "cli",
    "action",
    "hook",
    "demo",
}


def _internal_imports(path: Path) -> set[str]:
    """The package's own top-level modules that `path` imports (relative or absolute)."""
    found = set()
    depth = len(path.relative_to(PACKAGE).parts) - 1
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's folder
                parts = list(path.relative_to(PACKAGE).parts[:-1])[: depth - node.level + 1]
                parts += (node.module or "").split(".") if node.module else []
                names = parts or [alias.name for alias in node.names]
                if not parts:
                    found |= {alias.name for alias in node.names}
                    continue
                found.add(names[0])
            elif node.module and node.module.startswith("streamlit_preview."):
                found.add(node.module.split(".")[1])
    return found


def _layer_of(module: str) -> int | None:
    for index, (_, members) in enumerate(LAYERS):
        if module in members:
            return index
    return None


def test_every_module_has_a_layer():
    tops = {p.stem if p.parent == PACKAGE else p.relative_to(PACKAGE).parts[0]
            for p in PACKAGE.rglob("*.py") if "example_app" not in p.parts}  # fmt: skip
    unplaced = {m for m in tops - {"__init__", "reloader"} if _layer_of(m) is None}
    assert unplaced == set()


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        if "example_app" in parts or parts[0] == "reloader":
            continue
        own = _layer_of(path.stem if len(parts) == 1 else parts[0])
        if own is None:
            continue
        for module in _internal_imports(path):
            layer = _layer_of(module)
            if layer is not None and layer < own:
                upward.append(f"{'/'.join(parts)} imports {module}")
    assert upward == []


def test_the_reloader_is_a_program_of_its_own():
    """The in-pod supervisor imports the core only: never a backend, a front or GitHub."""
    reloader = list((PACKAGE / "reloader").rglob("*.py"))
    assert len(reloader) > 10
    reaching = {f"reloader/{p.name} imports {m}" for p in reloader for m in _internal_imports(p)
                if m in RELOADER_MAY_NOT}  # fmt: skip
    assert reaching == set()
