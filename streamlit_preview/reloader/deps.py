"""The app's Python dependencies, installed into an environment beside the image's packages.

Each distinct dependency list gets its own virtual environment under the runtime folder,
keyed by a hash of the list, so a failed install never touches the environment the running
app uses, and going back to an earlier list reuses its environment. The environment sees
the image's packages (a `.pth` file), so only what is missing is installed, and the image's
own packages are never modified.

Sources, in order: `requirements.txt`; else the `[project].dependencies` of `pyproject.toml`
(the app is not installed as a package: Streamlit apps are run, not imported).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import site
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

from ..errors import ServiceError

logger = logging.getLogger(__name__)

DEPENDENCY_FILES = ("requirements.txt", "pyproject.toml")
INSTALL_TIMEOUT_SECONDS = 900


def read_requirements(checkout: Path) -> str | None:
    """The requirement lines the app declares, or None when it declares none."""
    requirements = checkout / "requirements.txt"
    if requirements.is_file():
        text = requirements.read_text()
        return text if _has_requirements(text) else None
    pyproject = checkout / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ServiceError(f"pyproject.toml: cannot parse: {exc}") from None
        deps = data.get("project", {}).get("dependencies") or []
        return "\n".join(str(d) for d in deps) + "\n" if deps else None
    return None


def _has_requirements(text: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


class Environments:
    """Virtual environments for dependency lists, created on demand under `root`."""

    def __init__(self, root: Path, *, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    def python_for(self, requirements: str | None, *, cwd: Path) -> str:
        """The interpreter that runs the app with `requirements` installed (blocking)."""
        if requirements is None:
            return sys.executable
        key = hashlib.sha256(requirements.encode()).hexdigest()[:16]
        target = self.root / key
        python = target / "bin" / "python"
        if (target / ".complete").exists():
            return str(python)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        try:
            self._create(target)
            self._install(python, target / "requirements.txt", requirements, cwd=cwd)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        (target / ".complete").touch()
        return str(python)

    def _create(self, target: Path) -> None:
        venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(target)
        purelib = subprocess.run(
            [str(target / "bin" / "python"), "-c", "import sysconfig;print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()  # fmt: skip
        # Let the new environment see every package of the interpreter running us.
        base_paths = [p for p in sys.path if p and Path(p).is_dir() and "site-packages" in p]
        base_paths += [p for p in site.getsitepackages() if p not in base_paths]
        Path(purelib, "_streamlit_preview_base.pth").write_text("\n".join(base_paths) + "\n")

    def _install(self, python: Path, file: Path, requirements: str, *, cwd: Path) -> None:
        file.write_text(requirements)
        # The environment's own interpreter runs pip (it sees the image's pip through the
        # .pth file): a second faster than `pip --python`, which re-launches itself.
        command = [
            str(python), "-m", "pip", "install",
            "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-r", str(file),
        ]  # fmt: skip
        logger.info("installing the app's requirements")
        try:
            result = subprocess.run(
                command, cwd=cwd, env=self.env, capture_output=True, text=True,
                timeout=INSTALL_TIMEOUT_SECONDS,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise ServiceError(
                f"installing requirements took longer than {INSTALL_TIMEOUT_SECONDS} s"
            ) from None
        for line in (result.stdout + result.stderr).splitlines():
            logger.info("[pip] %s", line)
        if result.returncode != 0:
            errors = [ln for ln in result.stderr.splitlines() if ln.strip()]
            reason = errors[-1] if errors else f"pip exited with {result.returncode}"
            raise ServiceError(f"installing requirements failed: {reason.strip()}")
