"""A Streamlit started before there is anything to run: the cold start's head start.

Importing Streamlit takes most of its start-up (about half a second here). At a cold start the
reloader spawns this launcher first thing, from the app environment's interpreter, with the
whole Streamlit command line, and only then imports its own server and clones the repository.
When the checkout is ready it writes `go`, and the launcher runs exactly what
`python -m streamlit <args>` would, from the checkout. Anything else (or the end of input) ends
it unused: the app's requirements changed what Streamlit would import.

It runs as `python -c` so that nothing of ours lands on the app's `sys.path`; its command line
still reads `... streamlit run <app> ...` for whoever lists the processes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..processes import die_with_parent
from .options import StreamlitOptions

# argv: [-c, <checkout>, streamlit, run, <app>, <flags>...]
LAUNCHER_SOURCE = """
import os, sys
from streamlit.web import cli, bootstrap  # the slow part, done while the reloader clones
import streamlit.web.server
if sys.stdin.readline().strip() != "go":
    sys.exit(0)
sys.stdin.close()
os.chdir(sys.argv[1])
sys.path[0] = os.getcwd()  # as `python -m` sets it
sys.argv = sys.argv[2:]
cli.main(prog_name="streamlit")
"""


@dataclass
class Launcher:
    """A launcher waiting for `go`, and the command line it was given."""

    process: asyncio.subprocess.Process
    command: list[str]

    async def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()
        self.process.stdin.close()


async def prewarm(options: StreamlitOptions) -> Launcher:
    """Spawn the launcher for `options`; its output is Streamlit's, once it runs."""
    command = options.command()  # [python, -m, streamlit, run, app, flags...]
    process = await asyncio.create_subprocess_exec(
        options.python, "-c", LAUNCHER_SOURCE, str(options.cwd), *command[2:],
        env=options.child_env(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    return Launcher(process, command)
