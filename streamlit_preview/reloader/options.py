"""How Streamlit is run: one command line for the supervisor and the cold-start launcher."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class StreamlitOptions:
    """How to run Streamlit: the app environment's Python, our flags, its own HOME."""

    app: str
    cwd: Path
    home: Path
    bind: str
    port: int
    public_url: str | None = None
    python: str = sys.executable
    secrets_file: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        command = [
            self.python, "-m", "streamlit", "run", self.app,
            "--server.address", self.bind,
            "--server.port", str(self.port),
            "--server.headless", "true",
            "--server.runOnSave", "true",
            "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        if self.secrets_file is not None:  # st.secrets reads only this, never the checkout's
            command += ["--secrets.files", str(self.secrets_file)]
        # A set browser.serverAddress keeps Streamlit from looking up the machine's external
        # IP on the internet (a 20 s wait where that is unreachable) and allows the public origin.
        public = urlsplit(self.public_url) if self.public_url else None
        if self.public_url and public and public.hostname:
            port = public.port or (443 if public.scheme == "https" else 80)
            command += ["--server.corsAllowedOrigins", self.public_url,
                        "--browser.serverAddress", public.hostname, "--browser.serverPort", str(port)]  # fmt: skip
        else:
            command += [
                "--browser.serverAddress",
                urlsplit(self.local_base).hostname or "localhost",
            ]
        return command

    def child_env(self) -> dict[str, str]:
        """Streamlit's environment: ours (secrets removed) with its own HOME."""
        return dict(self.env) | {"HOME": str(self.home)}

    @property
    def local_base(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "", "::") else self.bind
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"
