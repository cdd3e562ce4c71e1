"""The local backend: one reloader process per environment on 127.0.0.1.

State lives in `$XDG_STATE_HOME/streamlit-preview` (or `--state-dir`): one JSON record per
environment, written atomically, plus its sync key (mode 0600) and log. Checkouts live
under `<state>/work`, or under the temporary folder when the state folder sits below a
dot-folder (Streamlit never reloads modules there). Processes are recognised by PID and
start time, so a recycled PID is never signalled.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ..access import resolve_access
from ..config import Settings
from ..environment import Environment, Progress, Status, parse_time
from ..errors import RolloutError, ServiceError, SyncError
from ..naming import same_repository
from ..processes import process_start_time
from ..reloader import contract
from ..reloader.config import UNWATCHED_NAMES
from ..signing import status_request_headers, sync_request
from ..statusdoc import ActivityStatus, ReloaderStatus, as_status
from .base import (
    describe_sync,
    raise_if_setup_failed,
    wait_for_page,
    with_page,
)

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0
SYNC_TIMEOUT_SECONDS = 120.0


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "streamlit-preview"


@dataclass
class Record:
    """What we remember about one local environment."""

    environment: str
    repository: str
    repo_url: str
    branch: str
    pr: int
    app: str
    pid: int
    started: str  # the process's start time (jiffies since boot), from /proc
    streamlit_port: int
    control_port: int
    workdir: str
    name: str | None = None  # the `name` input, when the pull request has several previews
    pinned: bool = False  # PREVIEW_PIN: a fork's approved commit
    private: bool = False  # opened with a git token
    created_at: str | None = None  # ISO 8601, UTC: when it was first opened

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.streamlit_port}/"

    @property
    def control(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"


class DamagedRecord(ServiceError):
    """A state record that cannot be read; never trusted to name a process to signal."""


class LocalBackend:
    name = "local"

    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = (state_dir or default_state_dir()).absolute()
        self.records = self.state_dir / "environments"
        self.logs = self.state_dir / "logs"
        self.work_root = _watchable_work_root(self.state_dir)
        self._http = httpx.Client(timeout=5.0, trust_env=False)

    # -- records ------------------------------------------------------------------------

    def _record_path(self, name: str) -> Path:
        return self.records / f"{name}.json"

    def _key_path(self, name: str) -> Path:
        return self.records / f"{name}.key"

    def _secrets_path(self, name: str) -> Path:
        return self.records / f"{name}.secrets.toml"

    def _token_path(self, name: str) -> Path:
        return self.records / f"{name}.token"

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def _load(self, name: str) -> Record | None:
        """The record of `name`; None when there is none. A damaged one raises `DamagedRecord`."""
        try:
            record = Record(**json.loads(self._record_path(name).read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            raise DamagedRecord(f"state file {self._record_path(name)} is damaged: {exc}") from None
        if not isinstance(record.pid, int) or not isinstance(record.started, str):
            raise DamagedRecord(
                f"state file {self._record_path(name)} is damaged: bad pid or start time"
            )
        return record

    def _load_or_forget(self, name: str, progress: Progress) -> Record | None:
        """Like `_load`, but a damaged record is dropped (never trusted to signal anything)."""
        try:
            return self._load(name)
        except DamagedRecord as exc:
            progress(f"{exc}; forgetting it (no process is signalled)")
            self._forget(name)
            return None

    def _forget(self, name: str) -> None:
        for path in (self._record_path(name), self._key_path(name), self._token_path(name),
                     self._secrets_path(name)):  # fmt: skip
            path.unlink(missing_ok=True)
        shutil.rmtree(self.work_root / name, ignore_errors=True)

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """One command at a time per environment (two concurrent opens made two reloaders)."""
        folder = self.state_dir / "locks"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (folder / f"{name}.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _save(self, record: Record) -> None:
        _write_atomically(
            self._record_path(record.environment), json.dumps(asdict(record), indent=2)
        )

    def _alive(self, record: Record) -> bool:
        """Only a process whose PID and kernel start time both match is ours."""
        return (
            record.pid > 1
            and bool(record.started)
            and process_start_time(record.pid) == record.started
        )

    def _ready(self, record: Record) -> bool:
        try:
            return self._http.get(f"{record.control}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _status(self, record: Record) -> ReloaderStatus | None:
        """The reloader's unsigned `/status` (None when it cannot be read)."""
        try:
            return as_status(self._http.get(f"{record.control}/status", timeout=2).json())
        except (httpx.HTTPError, ValueError):
            return None

    def _describe(self, record: Record, status: Status | None = None) -> Environment:
        if status is None:
            if not self._alive(record):
                status = Status.DEAD
            else:
                status = Status.RUNNING if self._ready(record) else Status.STARTING
        report = self._status(record) if status is not Status.DEAD else None
        commit = report.get("commit") if report else None
        page = report.get("page") if report else None
        if page and page.get("state") == "app_error" and status is Status.RUNNING:
            status = Status.APP_ERROR
        return Environment(
            environment=record.environment, url=record.url, commit=commit, status=status,
            branch=record.branch, pr=record.pr, repository=record.repository, name=record.name,
            pinned=record.pinned, private=record.private,
            created_at=parse_time(record.created_at), synced_at=parse_time(report.get("synced_at") if report else None),
        )  # fmt: skip

    # -- verbs --------------------------------------------------------------------------

    def list(self) -> list[Environment]:
        if not self.state_dir.exists() or (self.state_dir.is_dir() and not self.records.exists()):
            return []  # nothing was ever opened here
        try:
            names = sorted(n for n in os.listdir(self.records) if n.endswith(".json"))
        except OSError as exc:
            raise ServiceError(
                f"cannot read the state folder {self.records}: {exc.strerror}"
            ) from None
        found = []
        for path in (self.records / n for n in names):
            try:
                record = self._load(path.stem)
            except DamagedRecord:
                found.append(
                    Environment(environment=path.stem, url=None, commit=None, status=Status.DAMAGED)
                )
                continue
            if record:
                found.append(self._describe(record))
        return found

    def open(self, settings: Settings, *, progress: Progress) -> Environment:
        # Local previews listen on 127.0.0.1 only, with no sign-in in front of them.
        resolve_access(settings.access, sign_in=None, repository=settings.target.repository,
                       owner_is_org=settings.target.owner_is_org)  # fmt: skip
        with self._locked(settings.environment):
            return self._open(settings, progress)

    def _open(self, settings: Settings, progress: Progress) -> Environment:
        record = self._owned(self._load_or_forget(settings.environment, progress), settings)
        if record and self._alive(record):
            progress(f"{settings.environment} is running; syncing it")
            synced = self._sync(settings, progress)
            if synced is not None:
                return synced
        if record:
            progress(f"{settings.environment} was dead; starting it again")
            self._remove(record, keep_log=True)
        record = self._start(settings, previous=record)
        try:
            self._wait_ready(record, settings.wait_timeout, progress)
            if settings.target.sha:
                self._send_sync(record, settings.target.sha)
        except BaseException:
            progress(f"{settings.environment} did not start; removing it")
            self._remove(record)
            raise
        status = self._status_detail(record) or self._status(record)  # setup's output: signed
        raise_if_setup_failed(settings.environment, status, record.url)
        for note in (status.get("notes") if status else None) or []:
            progress(f"{settings.environment}: {note}")
        return self._with_page(record, self._describe(record, Status.RUNNING), settings)

    def sync(self, settings: Settings, *, progress: Progress) -> Environment | None:
        with self._locked(settings.environment):
            return self._sync(settings, progress)

    def _sync(self, settings: Settings, progress: Progress) -> Environment | None:
        record = self._owned(self._load_or_forget(settings.environment, progress), settings)
        if record is None:
            return None
        if not self._alive(record):
            if not settings.target.branch:  # restart it on the branch it followed
                settings = replace(settings, target=replace(settings.target, branch=record.branch))
            return self._open(settings, progress)
        answer = self._send_sync(record, settings.target.sha, git_token=settings.git_token)
        progress(describe_sync(settings.environment, answer))
        synced = Environment.for_settings(
            settings, status=Status.RUNNING, url=record.url, commit=answer["commit"],
            branch=record.branch, pr=record.pr, repository=record.repository, name=record.name,
            pinned=record.pinned, private=record.private,
        )  # fmt: skip
        return self._with_page(record, synced, settings)

    def _with_page(
        self, record: Record, environment: Environment, settings: Settings
    ) -> Environment:
        """Wait for the reloader's look at the page of this commit (check: page)."""
        if settings.check != "page":
            return environment
        return self._as_looked_at(record, environment, timeout=settings.check_timeout + 15)

    def _as_looked_at(
        self, record: Record, environment: Environment, *, timeout: float
    ) -> Environment:
        """`environment` as the reloader's look at the page of its commit saw it."""
        page = wait_for_page(lambda: self._status_detail(record), environment.commit,
                             timeout=timeout)  # fmt: skip
        return with_page(environment, page)

    def _status_detail(self, record: Record) -> ReloaderStatus | None:
        """The signed `/status?detail=1` (None when it cannot be read)."""
        try:
            key = self._key_path(record.environment).read_bytes()
            response = self._http.get(f"{record.control}/status", params={"detail": "1"},
                                      headers=status_request_headers(key.strip()), timeout=5)  # fmt: skip
            return as_status(response.json()) if response.status_code == 200 else None
        except (OSError, httpx.HTTPError, ValueError):
            return None

    def exists(self, settings: Settings) -> bool:
        try:
            return self._load(settings.environment) is not None
        except DamagedRecord:
            return True  # something is there: sync and close report it

    def close(self, settings: Settings, *, progress: Progress) -> bool:
        with self._locked(settings.environment):
            try:
                record = self._owned(self._load(settings.environment), settings)
            except DamagedRecord as exc:
                progress(f"{exc}; removing its files (no process is signalled)")
                self._forget(settings.environment)
                return True
            if record is None:
                return False
            self._remove(record)
            return True

    @staticmethod
    def _owned(record: Record | None, settings: Settings) -> Record | None:
        """Refuse an environment that another repository opened under the same name."""
        if record and not same_repository(record.repository, settings.target.repository):
            raise ServiceError(
                f"{settings.environment} belongs to repository {record.repository}, "
                f"not {settings.target.repository}: refusing to touch it"
            )
        return record

    # -- processes ----------------------------------------------------------------------

    def _start(self, settings: Settings, previous: Record | None) -> Record:
        name = settings.environment
        for folder in (self.records, self.logs, self.work_root):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = self._key_path(name)
        _write_atomically(key, secrets.token_hex(32), mode=0o600)
        workdir = self.work_root / name
        shutil.rmtree(workdir, ignore_errors=True)
        streamlit_port = _free_port(previous.streamlit_port if previous else None)
        control_port = _free_port(previous.control_port if previous else None, avoid=streamlit_port)
        # Nothing of ours reaches the app: no PREVIEW_* and no GitHub token (the reloader
        # gets the token as a file, as in the pod).
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(contract.PREFIX) and k not in ("GITHUB_TOKEN", "GH_TOKEN")}  # fmt: skip
        env |= settings.env | settings.secret_env
        data = self.state_dir / "data" / name if settings.data_size else None
        if data is not None:  # a folder under the state folder, kept across restarts
            data.mkdir(parents=True, exist_ok=True)
        self._termination_path(name).unlink(missing_ok=True)
        if settings.secrets_toml is not None:  # outside the checkout, the owner's only
            _write_atomically(self._secrets_path(name), settings.secrets_toml, mode=0o600)
        else:
            self._secrets_path(name).unlink(missing_ok=True)
        if settings.git_token:
            _write_atomically(self._token_path(name), settings.git_token, mode=0o600)
        env |= contract.for_settings(
            settings, workdir=str(workdir), webhook_secret_file=str(key), bind="127.0.0.1",
            streamlit_port=streamlit_port, control_port=control_port, public_url=None,
            termination_log=str(self._termination_path(name)),
            data_dir=str(data) if data is not None else None,
            secrets_file=str(self._secrets_path(name)) if settings.secrets_toml is not None else None,
            git_token_file=str(self._token_path(name)) if settings.git_token else None,
        )  # fmt: skip
        with self.log_path(name).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "streamlit_preview.reloader"],
                env=env, cwd=self.state_dir, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            )  # fmt: skip
        record = Record(
            environment=name, repository=settings.target.repository,
            repo_url=settings.target.repo_url, branch=settings.target.branch,
            pr=settings.target.pr, app=settings.app_path, pid=process.pid,
            started=process_start_time(process.pid) or "", streamlit_port=streamlit_port,
            control_port=control_port, workdir=str(workdir), name=settings.name,
            pinned=settings.pin is not None, private=settings.git_token is not None,
            created_at=(previous.created_at if previous else None) or _utc_now(),
        )  # fmt: skip
        self._save(record)
        return record

    def _wait_ready(self, record: Record, timeout: float, progress: Progress) -> None:
        started = time.monotonic()
        last_said = 0.0
        while True:
            elapsed = time.monotonic() - started
            if not self._alive(record):
                reason = self._termination_message(record)
                if reason:  # the reloader's own report of a failure no retry can fix
                    raise RolloutError(f"{record.environment}: {reason}")
                raise RolloutError(
                    f"{record.environment}: the reloader exited; last log lines: {self._tail(record)}"
                )
            if self._ready(record):
                progress(f"{record.environment} is ready after {elapsed:.1f} s: {record.url}")
                return
            status = self._status(record)
            if elapsed > timeout:
                reason = (status and status.get("last_error")) or "Streamlit did not become healthy"
                raise RolloutError(f"{record.environment} not ready after {timeout} s: {reason}")
            if elapsed - last_said >= 2:
                last_said = elapsed
                progress(
                    f"waiting for {record.environment}: {describe_start(status)}, {elapsed:.0f} s"
                )
            time.sleep(0.1)

    def sync_to(
        self, environment: Environment, *, sha: str, git_token: str | None = None
    ) -> dict[str, object]:
        with self._locked(environment.environment):
            record = self._load(environment.environment)
            if record is None or not self._alive(record):
                raise SyncError(f"{environment.environment}: not running")
            return self._send_sync(record, sha, git_token=git_token)

    def store_git_token(self, environment: Environment, token: str) -> None:
        """The token file the reloader reads when it clones or fetches."""
        with self._locked(environment.environment):
            if self._load(environment.environment) is not None:
                _write_atomically(self._token_path(environment.environment), token, mode=0o600)

    def settle(self, environment: Environment, *, commit: str, timeout: float) -> Environment:
        record = self._load(environment.environment)
        if record is None:
            return environment
        settled = replace(environment, url=record.url, commit=commit, status=Status.RUNNING)
        return self._as_looked_at(record, settled, timeout=timeout)

    # Local previews do not sleep: a process on this machine costs little, and no router
    # stands in front of it to wake it.
    def activity(self, environment: Environment) -> ActivityStatus | None:
        return None

    def sleep(self, environment: Environment) -> None:
        raise ServiceError(f"{environment.environment}: local previews do not sleep")

    def wake(self, environment: Environment) -> bool:
        return False

    def _send_sync(self, record: Record, sha: str | None, *, git_token: str | None = None) -> dict:
        try:
            key = self._key_path(record.environment).read_text().encode()
        except OSError as exc:
            raise ServiceError(
                f"{record.environment}: cannot read its key file ({exc.strerror}); close and open it again"
            ) from None
        body, headers = sync_request(key, sha, git_token=git_token)
        try:
            response = self._http.post(
                f"{record.control}/sync",
                content=body,
                headers=headers,
                timeout=SYNC_TIMEOUT_SECONDS,
            )
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"{record.environment}: the reloader did not answer /sync: {exc}"
            ) from None
        if response.status_code != 200:
            raise SyncError(
                f"{record.environment}: sync failed ({response.status_code}): {_error_of(response)}"
            )
        return response.json()

    def _remove(self, record: Record, *, keep_log: bool = False) -> None:
        if self._alive(record):
            _stop_group(record.pid)
        shutil.rmtree(record.workdir, ignore_errors=True)
        for folder in (self.work_root, self.work_root.parent):  # leave no empty folder behind
            with contextlib.suppress(OSError):
                if folder != self.state_dir:
                    folder.rmdir()
        for path in (self._key_path(record.environment), self._token_path(record.environment),
                     self._secrets_path(record.environment)):  # fmt: skip
            path.unlink(missing_ok=True)
        if not keep_log:  # a close, not a restart: the data goes too
            self.log_path(record.environment).unlink(missing_ok=True)
            shutil.rmtree(self.state_dir / "data" / record.environment, ignore_errors=True)
        self._record_path(record.environment).unlink(missing_ok=True)

    def _termination_path(self, name: str) -> Path:
        return self.logs / f"{name}.termination"

    def _termination_message(self, record: Record) -> str:
        try:
            return self._termination_path(record.environment).read_text().strip()
        except OSError:
            return ""

    def _tail(self, record: Record, lines: int = 5) -> str:
        try:
            text = self.log_path(record.environment).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"


def _error_of(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error"))
    except ValueError:
        return response.text[:200]


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _stop_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline and process_start_time(pid) is not None:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _free_port(preferred: int | None = None, *, avoid: int | None = None) -> int:
    """`preferred` if it is free (keeps a restarted environment's URL), else any free port."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port = sock.getsockname()[1]
            if port != avoid:
                return port
    return _free_port(avoid=avoid)


def _write_atomically(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _watchable_work_root(state_dir: Path) -> Path:
    if any(p.startswith(".") or p in UNWATCHED_NAMES for p in state_dir.parts[1:]):
        return Path(tempfile.gettempdir()) / f"streamlit-preview-{os.getuid()}" / "work"
    return state_dir / "work"


def describe_start(status: ReloaderStatus | None) -> str:
    """Where a starting reloader is, for the progress line: its phase, setup's last output
    line, or Streamlit's state once it serves; and its last error."""
    if status is None:
        return "starting"
    state = status.get("phase", "starting")
    setup = status.get("setup")
    tail = [line for line in ((setup.get("tail") if setup else None) or []) if line.strip()]
    if state == "setup" and tail:
        state = f"setup: {tail[-1][:120]}"
    if state == "serving":
        state = f"Streamlit {(status.get('streamlit') or {}).get('state', 'starting')}"
    error = status.get("last_error")
    return state + (f" ({error})" if error else "")
