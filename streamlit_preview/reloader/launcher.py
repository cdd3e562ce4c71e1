"""A Streamlit started before there is anything to run: the cold start's head start.

Importing Streamlit takes most of its start-up (about half a second here). At a cold start the
reloader spawns this launcher first thing, from the app environment's interpreter, with the
whole Streamlit command line, and only then imports its own server and clones the repository.
When the checkout is ready it writes `go`, and the launcher runs exactly what
`python -m streamlit <args>` would, from the checkout. Anything else (or the end of input) ends
it unused: the app's requirements changed what Streamlit would import.

It runs as `python -c` so that nothing of ours lands on the app's `sys.path`; its command line
still reads `... streamlit run <app> ...` for whoever lists the processes.

Every Streamlit the supervisor starts runs through it (a restart writes `go` at once), because
it is also the reloader's hook inside the Streamlit process: after `go`, its stdin stays open
for commands. `clear data N` drops every `st.cache_data` entry, `clear all N` the
`st.cache_resource` ones too, each answered by one line `ACK_PREFIX N ok` on its output, so
the reloader knows the caches are gone before it lets the open tabs rerun. It also serves
Streamlit's page with the flag that makes an open tab reload itself when the server's
Streamlit version is not its own (after a restart onto another version).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from ..processes import die_with_parent
from .options import StreamlitOptions

ACK_PREFIX = "\x1estreamlit-preview ack "
# argv: [-c, <checkout>, streamlit, run, <app>, <flags>...]
LAUNCHER_SOURCE = """
import os, sys, threading
from streamlit.web import cli, bootstrap  # the slow part, done while the reloader clones
import streamlit.web.server
if sys.stdin.readline().strip() != "go":
    sys.exit(0)
ACK = ACK_PREFIX_HERE
def _answer(number, answer):
    sys.stdout.write(ACK + number + " " + answer + chr(10))
    sys.stdout.flush()
def _running_sessions():
    from streamlit.runtime import Runtime
    from streamlit.runtime.app_session import AppSessionState
    sessions = Runtime.instance()._session_mgr.list_active_sessions()
    return sum(1 for info in sessions if info.session._state == AppSessionState.APP_IS_RUNNING)
def _settle(number, start_window, limit):
    # Answer once the open tabs' rerun has started and ended (or none started in
    # start_window seconds): the page check then does not compete with it.
    import time
    started, seen = time.monotonic(), False
    try:
        while time.monotonic() - started < limit:
            running = _running_sessions()
            seen = seen or running > 0
            if (seen and not running) or (not seen and time.monotonic() - started > start_window):
                break
            time.sleep(0.002)
        _answer(number, "ok")
    except Exception as exc:
        _answer(number, type(exc).__name__)
def _commands():
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "sessions":
            try:
                from streamlit.runtime import Runtime
                _answer(words[1], str(Runtime.instance()._session_mgr.num_active_sessions()))
            except Exception as exc:
                _answer(words[1], type(exc).__name__)
            continue
        if len(words) == 2 and words[0] == "settle":
            threading.Thread(target=_settle, args=(words[1], 0.3, 3.0), daemon=True).start()
            continue
        if len(words) != 3 or words[0] != "clear":
            continue
        try:
            import streamlit as st
            st.cache_data.clear()
            if words[1] == "all":
                st.cache_resource.clear()
            answer = "ok"
        except Exception as exc:
            answer = type(exc).__name__
        _answer(words[2], answer)
threading.Thread(target=_commands, daemon=True, name="streamlit-preview").start()
def _reload_on_a_new_version():
    # Serve index.html with a flag Streamlit's frontend reads (window.__streamlit): every
    # new session then compares the frontend's own version with the server's and reloads
    # the page when they differ (a restart brought another Streamlit). Without it a tab that
    # reconnects keeps its old frontend. Only where Streamlit serves its files with Starlette
    # following symlinks; any surprise leaves Streamlit as it is.
    try:
        import hashlib, inspect, shutil, tempfile
        from streamlit import file_util
        from streamlit.web.server.starlette import starlette_static_routes
        if "follow_symlink=True" not in inspect.getsource(starlette_static_routes):
            return  # Tornado-served releases refuse the overlay's symlinks (403)
        original = file_util.get_static_dir()
        with open(os.path.join(original, "index.html"), encoding="utf-8") as file:
            index = file.read()
        if "<head>" not in index:
            return
        # In Streamlit's own HOME (the reloader's runtime folder, removed with it), one per
        # Streamlit release, reused by every restart onto it.
        key = hashlib.sha256(original.encode()).hexdigest()[:12]
        overlay = os.path.join(os.environ.get("HOME") or tempfile.gettempdir(), "static-" + key)
        if not os.path.isdir(overlay):
            os.makedirs(os.path.dirname(overlay), exist_ok=True)
            building = tempfile.mkdtemp(prefix="static-", dir=os.path.dirname(overlay))
            for name in os.listdir(original):
                if name != "index.html":
                    os.symlink(os.path.join(original, name), os.path.join(building, name))
            flag = ("<script>window.__streamlit=Object.assign({},window.__streamlit,"
                    "{ENABLE_RELOAD_BASED_ON_HARDCODED_STREAMLIT_VERSION:true})</script>")
            with open(os.path.join(building, "index.html"), "w", encoding="utf-8") as file:
                file.write(index.replace("<head>", "<head>" + flag, 1))
            try:
                os.rename(building, overlay)
            except OSError:  # another start made it first
                shutil.rmtree(building, ignore_errors=True)
        file_util.get_static_dir = lambda: overlay
    except Exception:
        pass
_reload_on_a_new_version()
os.chdir(sys.argv[1])
sys.path[0] = os.getcwd()  # as `python -m` sets it
sys.argv = sys.argv[2:]
cli.main(prog_name="streamlit")
""".replace("ACK_PREFIX_HERE", repr(ACK_PREFIX))


@dataclass
class Launcher:
    """A launcher waiting for `go`, the command line it was given, and its commands' answers."""

    process: asyncio.subprocess.Process
    command: list[str]
    _answers: dict[str, asyncio.Future[str]] = field(default_factory=dict)
    _asked: int = 0

    async def go(self) -> None:
        await self.send("go")

    async def send(self, line: str) -> None:
        """One line to the launcher (`go`, then commands); a gone process is ignored."""
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing():
            return
        stdin.write(line.encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await stdin.drain()

    async def ask(self, command: str, *, timeout: float) -> str | None:
        """Send `command` with a fresh number; its answer, or None after `timeout`."""
        self._asked += 1
        number = str(self._asked)
        answered = asyncio.get_running_loop().create_future()
        self._answers[number] = answered
        try:
            await self.send(f"{command} {number}")
            return await asyncio.wait_for(answered, timeout)
        except TimeoutError:
            return None
        finally:
            self._answers.pop(number, None)

    def acknowledge(self, line: str) -> bool:
        """Take an output line that answers a command; False for any other line."""
        if not line.startswith(ACK_PREFIX):
            return False
        number, _, answer = line.removeprefix(ACK_PREFIX).partition(" ")
        waiting = self._answers.pop(number, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(answer)
        return True


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
