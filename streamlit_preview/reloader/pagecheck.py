"""Look at the page as a visitor would: one session on Streamlit's own WebSocket.

After the files land and Streamlit has rerun, the reloader opens a session at
`/_stcore/stream` with the protobuf messages that ship inside the `streamlit` package (a
`BackMsg` asking for a run, then the `ForwardMsg`s of that run), lets the script run, and
collects what the page shows: the exception elements (type, message, and the app's own file
and line), whether the run finished, and the page title. Then it closes the session.
Streamlit's `AppTest` runs the script in-process, which is not the page visitors get, so it is
not used here.

It never delays the open tabs: it runs after the sync answered, as one more session.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

# A frame of a traceback as Streamlit renders it: `File "/path/app.py", line 3, in <module>`.
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


class PageCheckError(Exception):
    """No session could be opened on the page (Streamlit refused or went away)."""


@dataclass(frozen=True)
class AppError:
    """An exception on the page; `file` is relative to the checkout (None outside it)."""

    type: str
    message: str
    file: str | None
    line: int | None

    def one_line(self) -> str:
        where = (
            f" at {self.file}:{self.line}"
            if self.file and self.line
            else (f" in {self.file}" if self.file else "")
        )
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"app error{where}: {self.type}" + (f": {first}" if first else "")


@dataclass
class PageCheck:
    """What one look at the page found."""

    finished: bool = False  # the script ran to its end (or stopped on an exception)
    title: str | None = None
    errors: list[AppError] = field(default_factory=list)
    seconds: float = 0.0


def _frame_in(trace: list[str], workdir: Path) -> tuple[str | None, int | None]:
    """The innermost frame of the trace that is the app's own code."""
    root = workdir.resolve()
    found: tuple[str | None, int | None] = (None, None)
    for entry in trace:
        match = _FRAME.search(entry)
        if not match:
            continue
        path = Path(match["file"])
        try:
            relative = path.resolve().relative_to(root)
        except (ValueError, OSError):
            continue
        found = (relative.as_posix(), int(match["line"]))
    return found


def _error_of(exception: Any, workdir: Path, app: str) -> AppError:
    """An `Exception` proto as an `AppError`. A compile error's location is in its message."""
    file, line = _frame_in(list(exception.stack_trace), workdir)
    message = exception.message
    kind = exception.type or "Exception"
    if file is None:
        match = _FRAME.search(message) or re.search(r"line (?P<line>\d+)", message)
        if match:
            line = int(match["line"])
            file = app
    if _FRAME.match(
        message.strip()
    ):  # a compile error renders as its traceback: keep the last line
        last = [row for row in message.strip().splitlines() if row.strip()][-1].strip()
        message = last.removeprefix(f"{kind}:").strip()
    return AppError(type=kind, message=message, file=file, line=line)


async def check_page(base: str, *, workdir: Path, app: str, timeout: float) -> PageCheck:
    """Run the page once in a fresh session at `base` (Streamlit's http://host:port);
    return what it showed within `timeout`."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    started = time.monotonic()
    result = PageCheck()
    url = "ws" + base.removeprefix("http").rstrip("/") + "/_stcore/stream"
    try:
        async with asyncio.timeout(timeout):
            protocols = [websockets.Subprotocol("streamlit")]
            async with websockets.connect(url, subprotocols=protocols, max_size=None,
                                          open_timeout=timeout) as socket:  # fmt: skip
                request = BackMsg()
                request.rerun_script.query_string = ""
                request.rerun_script.page_script_hash = ""
                await socket.send(request.SerializeToString())
                async for raw in socket:
                    message = ForwardMsg()
                    message.ParseFromString(raw if isinstance(raw, bytes) else raw.encode())
                    if take(message, result, workdir=workdir, app=app):
                        break
    except TimeoutError:
        pass
    except (OSError, websockets.exceptions.WebSocketException) as exc:
        raise PageCheckError(f"could not open a session: {type(exc).__name__}") from exc
    result.title = result.title or f"{Path(app).stem} · Streamlit"
    result.seconds = time.monotonic() - started
    return result


def take(message: Any, result: PageCheck, *, workdir: Path, app: str) -> bool:
    """Fold one `ForwardMsg` of the run into `result`; True when the run is over (it
    finished, or the script did not compile). No I/O."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    kind = message.WhichOneof("type")
    if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
        element = message.delta.new_element
        if element.WhichOneof("type") == "exception" and not element.exception.is_warning:
            result.errors.append(_error_of(element.exception, workdir, app))
    elif kind == "session_event" and message.session_event.HasField("script_compilation_exception"):
        exception = message.session_event.script_compilation_exception
        result.errors.append(_error_of(exception, workdir, app))
        result.finished = True
    elif kind == "page_config_changed" and message.page_config_changed.title:
        result.title = message.page_config_changed.title
    elif kind == "script_finished":
        status = message.script_finished
        if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
            return False  # its exception follows as a session event
        if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            result.errors.clear()  # a newer run follows: judge that one
            return False
        result.finished = True
    return result.finished
