"""The app's Python dependencies, installed into one environment beside the image's packages.

Streamlit always runs from this virtual environment. It sees the image's packages (a `.pth`
file), so an install adds only what is missing and never modifies the image's own packages
(uv resolves and installs, pip wherever uv could not do exactly what pip would: see uvinstall).
Because the running Streamlit already has the environment on its `sys.path`, a package that
is only *added* is importable at once: a rerun shows it, no restart needed. A restart is
needed only when an install replaces or removes something the app may already have
imported (a changed version, a package that shadows one of the image's, a new `.pth`).

Sources, in order: `requirements.txt`; else the `[project].dependencies` of `pyproject.toml`
(the app is not installed as a package: Streamlit apps are run, not imported).
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import re
import site
import subprocess
import sys
import sysconfig
import tomllib
import venv
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from ..errors import ServiceError
from . import uvinstall
from .uvinstall import UvUnavailable

logger = logging.getLogger(__name__)

DEPENDENCY_FILES = ("requirements.txt", "pyproject.toml")
INSTALL_TIMEOUT_SECONDS = 900
_DIST_INFO = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+)\.dist-info$")


def dependency_files(app: str = "streamlit_app.py") -> tuple[str, ...]:
    """Where the app's requirements may be, in the order they are looked for: next to the app
    first (a monorepo), then at the repository's root, as Streamlit Community Cloud does."""
    folder = str(PurePosixPath(app).parent)
    places = [f"{folder}/{name}" for name in DEPENDENCY_FILES] if folder not in ("", ".") else []
    return (*places, *DEPENDENCY_FILES)


def system_packages_file(read: Callable[[str], bytes | None], app: str) -> str | None:
    """A `packages.txt` (apt packages, as Community Cloud reads it), which is not installed here."""
    folder = str(PurePosixPath(app).parent)
    for path in ([f"{folder}/packages.txt"] if folder not in ("", ".") else []) + ["packages.txt"]:
        if read(path) is not None:
            return path
    return None


def read_requirements(
    read: Callable[[str], bytes | None], app: str = "streamlit_app.py"
) -> str | None:
    """The requirement lines the app declares (None: none), from `read(path)`: the first of
    `dependency_files(app)` that exists."""
    for path in dependency_files(app):
        data = read(path)
        if data is None:
            continue
        if path.endswith("requirements.txt"):
            text = data.decode(errors="replace")
            return text if _has_requirements(text) else None
        return _pyproject_requirements(path, data)
    return None


def _pyproject_requirements(path: str, pyproject: bytes) -> str | None:
    if pyproject is not None:
        try:
            data = tomllib.loads(pyproject.decode(errors="replace"))
        except tomllib.TOMLDecodeError as exc:
            raise ServiceError(f"{path}: cannot parse: {exc}") from None
        deps = data.get("project", {}).get("dependencies") or []
        return "\n".join(str(d) for d in deps) + "\n" if deps else None
    return None


_FILE_OPTIONS = ("-r", "--requirement", "-c", "--constraint", "-e", "--editable")


def needs_checkout(requirements: str) -> bool:
    """Whether a line installs from a path of the repository (it must be on disk first)."""
    for line in requirements.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        target = words[-1] if words[0] in _FILE_OPTIONS or words[0].startswith("--") else words[0]
        # A relative path, or a relative file: URL, names something in the commit itself.
        if target.startswith(".") or re.search(r"(^|@)\s*file:(?!/)", line.strip()):
            return True
    return False


def check_paths(requirements: str, root: Path) -> None:
    """Refuse `-r`, `-c` and `-e` references to files outside the repository: pip reads them
    and quotes their lines in its errors."""
    root = root.resolve()
    for number, line in enumerate(requirements.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        candidates = []
        if words[0] in _FILE_OPTIONS and len(words) > 1:
            candidates.append(words[1])
        elif words[0].startswith(tuple(o + "=" for o in _FILE_OPTIONS)):
            candidates.append(words[0].split("=", 1)[1])
        for candidate in candidates:
            if "://" in candidate:
                continue  # a URL: pip fetches it
            if not (root / candidate).resolve().is_relative_to(root):
                raise ServiceError(
                    f"requirements line {number}: refers to a path outside the repository"
                )


def _has_requirements(text: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def _public_reason(line: str) -> str:
    """pip's last error line, without quoted file content (`/status` is unauthenticated)."""
    line = line.strip()
    if "Invalid requirement" in line or ("line " in line and "'" in line):
        return (
            "a line of the requirements could not be parsed (the reloader's log has pip's message)"
        )
    return line[:300]


class AppEnvironment:
    """The virtual environment Streamlit runs from; created once, grows with installs."""

    def __init__(self, root: Path, *, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.python = str(root / "bin" / "python")
        self._purelib: Path | None = None

    @functools.cached_property
    def _image_packages(self) -> dict[str, str]:
        """The image's own distributions, name → version (read at the first install, not at
        start-up); the first of a name on the path is the one imported."""
        found: dict[str, str] = {}
        for dist in importlib.metadata.distributions():
            found.setdefault(uvinstall.normalise(dist.metadata["Name"] or ""), dist.version)
        return found

    def create(self) -> None:
        """Make the environment (milliseconds: no pip inside, it uses the image's)."""
        venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(self.root)
        root = str(self.root)
        self._purelib = Path(
            sysconfig.get_path("purelib", "venv", vars={"base": root, "platbase": root})
        )
        self._purelib.mkdir(parents=True, exist_ok=True)
        # Let the environment see every package of the interpreter running us.
        base_paths = [p for p in sys.path if p and Path(p).is_dir() and "site-packages" in p]
        base_paths += [p for p in site.getsitepackages() if p not in base_paths]
        (self._purelib / "_streamlit_preview_base.pth").write_text("\n".join(base_paths) + "\n")

    def _installed(self) -> tuple[dict[str, str], set[str]]:
        """(package → version, .pth files) installed in the environment itself."""
        assert self._purelib is not None
        packages = {}
        for entry in self._purelib.glob("*.dist-info"):
            match = _DIST_INFO.match(entry.name)
            if match:
                packages[uvinstall.normalise(match["name"])] = match["version"]
        return packages, {p.name for p in self._purelib.glob("*.pth")}

    def package_version(self, name: str) -> str | None:
        """The version the environment itself holds of `name` (None: the image's, if any)."""
        if self._purelib is None:
            return None
        return self._installed()[0].get(uvinstall.normalise(name))

    def install(self, requirements: str, *, cwd: Path) -> bool:
        """Install `requirements` (blocking); True when Streamlit must restart to see them.

        uv first (milliseconds where pip takes a second or more); pip whenever uv cannot do
        exactly what pip would, or fails, so results and error messages stay pip's.
        """
        before, pth_before = self._installed()
        file = self.root / "requirements.txt"
        file.write_text(requirements)
        try:
            installed, needed = uvinstall.install(
                self.python, file, self._image_packages | before, cwd=cwd, env=self.env,
                timeout=INSTALL_TIMEOUT_SECONDS,
            )  # fmt: skip
            logger.info("installed with uv: %s", ", ".join(installed) or "nothing was missing")
            self._remove(sorted(set(self._installed()[0]) - needed), cwd=cwd)
        except UvUnavailable as exc:
            logger.info("installing with pip: %s", exc)
            self._pip_install(file, cwd=cwd)
            # pip gives no resolution to compare with: what it no longer needs stays.
        after, pth_after = self._installed()
        changed = any(after.get(name) != version for name, version in before.items())
        added = set(after) - set(before)
        shadows_image = bool(added & set(self._image_packages))
        return changed or shadows_image or pth_after != pth_before

    def remove_all(self, *, cwd: Path) -> bool:
        """The requirements are gone: remove every package the environment itself holds, as
        a fresh deploy would not have them; True when something was removed (restart)."""
        if self._purelib is None:
            return False
        return self._remove(sorted(self._installed()[0]), cwd=cwd)

    def _remove(self, names: list[str], *, cwd: Path) -> bool:
        """Uninstall `names` from the environment itself (never the image's packages): a
        package the commit no longer requires is gone, as in a fresh deploy. True if any."""
        if not names:
            return False
        try:
            uvinstall.uninstall(self.python, names, cwd=cwd, env=self.env,
                                timeout=INSTALL_TIMEOUT_SECONDS)  # fmt: skip
        except UvUnavailable:
            self._run_pip(["uninstall", "--yes", *names], cwd=cwd, what="uninstalling")
        logger.info("removed what the requirements no longer need: %s", ", ".join(names))
        return True

    def _pip_install(self, file: Path, *, cwd: Path) -> None:
        self._run_pip(["install", "--progress-bar", "off", "-r", str(file)], cwd=cwd,
                      what="installing")  # fmt: skip

    def _run_pip(self, arguments: list[str], *, cwd: Path, what: str) -> None:
        # The environment's own interpreter runs pip (it sees the image's pip through the
        # .pth file): a second faster than `pip --python`, which re-launches itself.
        command = [self.python, "-m", "pip", *arguments[:1], "--disable-pip-version-check",
                   "--no-input", *arguments[1:]]  # fmt: skip
        try:
            result = subprocess.run(
                command, cwd=cwd, env=self.env, capture_output=True, text=True,
                timeout=INSTALL_TIMEOUT_SECONDS,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise ServiceError(
                f"{what} requirements took longer than {INSTALL_TIMEOUT_SECONDS} s"
            ) from None
        for line in (result.stdout + result.stderr).splitlines():
            logger.debug("[pip] %s", line)
        if result.returncode != 0:
            errors = [ln for ln in result.stderr.splitlines() if ln.strip() and "WARNING" not in ln]
            reason = _public_reason(
                errors[-1] if errors else f"pip exited with {result.returncode}"
            )
            raise ServiceError(f"{what} requirements failed: {reason}")
