"""A Streamlit started before there is anything to run: the cold start's head start.

Importing Streamlit takes most of its start-up (about half a second here). At a cold start the
reloader spawns this launcher first thing, from the app environment's interpreter, and only
then imports its own server and clones the repository. When the checkout is ready it writes
one JSON line, `{"cwd": ..., "args": [...]}`, and the launcher runs exactly what
`python -m streamlit <args>` would, from that folder. An empty line (or end of input) ends it
unused: the app's requirements changed what Streamlit would import.

It runs as `python -c` so that nothing of ours lands on the app's `sys.path`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

LAUNCHER_SOURCE = """
import json, os, sys
from streamlit.web import cli, bootstrap  # the slow part, done while the reloader clones
import streamlit.web.server  # noqa
order = sys.stdin.readline()
if not order.strip():
    sys.exit(0)
order = json.loads(order)
os.chdir(order["cwd"])
sys.path[0] = os.getcwd()  # as `python -m` sets it
sys.argv = ["streamlit", *order["args"]]
sys.stdin.close()
cli.main(prog_name="streamlit")
"""


async def prewarm(
    python: str, *, env: Mapping[str, str], preexec_fn: object
) -> asyncio.subprocess.Process:
    """Spawn the launcher; its output is Streamlit's, once it runs."""
    return await asyncio.create_subprocess_exec(
        python, "-c", LAUNCHER_SOURCE,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=preexec_fn,  # type: ignore[arg-type]
    )  # fmt: skip


async def launch(process: asyncio.subprocess.Process, cwd: Path, args: Sequence[str]) -> None:
    """Tell a prewarmed launcher what to run (`args` as after `python -m streamlit`)."""
    assert process.stdin is not None
    process.stdin.write(json.dumps({"cwd": str(cwd), "args": list(args)}).encode() + b"\n")
    await process.stdin.drain()
    process.stdin.close()
