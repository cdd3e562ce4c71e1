"""Which versions a preview runs: ours, Streamlit's and Python's, for `--version` and `/status`."""

from __future__ import annotations

import importlib.metadata
import platform

from . import __version__


def installed_version(distribution: str) -> str | None:
    """The version of an installed distribution, read from its metadata (no import)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def component_versions(app_streamlit: str | None = None) -> dict[str, str | None]:
    """`app_streamlit`: the Streamlit the app pinned, which shadows the image's own."""
    return {
        "streamlit-preview": __version__,
        "streamlit": app_streamlit or installed_version("streamlit"),
        "python": platform.python_version(),
    }


def version_line() -> str:
    parts = component_versions()
    return f"streamlit-preview {parts['streamlit-preview']} (streamlit {parts['streamlit']}, python {parts['python']})"
