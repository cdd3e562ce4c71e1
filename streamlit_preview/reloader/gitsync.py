"""The checkout: shallow clone, fetch, and an update that never shows a half-written commit.

Why not `git reset --hard`: Streamlit reruns the moment the first changed file lands, so a
multi-file commit written in git's order makes the rerun import a mix of old and new files.
`apply` renames each changed file into place (the main script last), deletes removed files
after that, then moves the index with `git reset --mixed`.

The only module that imports `git`. A token is handed to git through `GIT_CONFIG_*`
variables of the child process, so it never appears in argv, `.git/config`, remote URLs or
error messages. This module knows nothing about processes other than git.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import secrets
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import git
from git.objects.fun import tree_entries_from_data

from ..errors import PermanentSyncError, SyncError

logger = logging.getLogger(__name__)

GIT_TIMEOUT_SECONDS = 300

# git's words for failures that retrying cannot fix, and what we say instead.
_PERMANENT = (
    (
        re.compile(r"Remote branch (\S+) not found in upstream", re.I),
        "branch {branch!r} not found in {url}",
    ),
    (
        re.compile(
            r"repository .* not found|Repository not found|returned error: 404|"
            r"does not appear to be a git repository|repository '.*' does not exist",
            re.I,
        ),
        "repository not found: {url}",
    ),
    (
        re.compile(
            r"Authentication failed|returned error: 40[13]|could not read Username|"
            r"terminal prompts disabled|Invalid username or password",
            re.I,
        ),
        "authentication refused by {url} (check the token's access to the repository)",
    ),
)
_SUBMODULE_MODE = "160000"
_SYMLINK_MODE = "120000"
_EXECUTABLE_MODE = "100755"


@dataclass(frozen=True)
class Changes:
    """Paths (relative, POSIX) that an update added, modified or deleted."""

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        return self.added + self.modified + self.deleted

    def __bool__(self) -> bool:
        return bool(self.paths)


@dataclass(frozen=True)
class Update:
    """A planned move to `target`: (status, new mode, new blob, path) per changed path."""

    target: str
    entries: list[tuple[str, str, str, str]]

    @property
    def changes(self) -> Changes:
        return Changes(
            added=tuple(p for s, _, _, p in self.entries if s == "A"),
            modified=tuple(p for s, _, _, p in self.entries if s not in "AD"),
            deleted=tuple(p for s, _, _, p in self.entries if s == "D"),
        )


@dataclass
class Checkout:
    """A shallow single-branch checkout at `path` that follows `branch` of `url`.

    `main_script` (relative path) is written last by `apply`.
    """

    url: str
    branch: str
    path: Path
    token: str | None = field(default=None, repr=False)
    main_script: str = ""
    fetches: int = 0
    _open_repo: git.Repo | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.url = _normalise_url(self.url)

    # -- git plumbing -------------------------------------------------------------------

    def _env(self, *, credentials: bool = True) -> dict[str, str]:
        """git's environment. `credentials`: the token too, for the short-lived clone and
        fetch children only, never for a long-lived one whose environment the app (the same
        uid) could read in /proc."""
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
        # In a pod the checkout is an emptyDir owned by root (group fsGroup), and git refuses
        # a repository whose top folder another user owns ("dubious ownership").
        # fsck on fetch refuses trees git would not check out (`..`, `.git` in any case).
        config = [("safe.directory", str(self.path)), ("fetch.fsckObjects", "true"),
                  ("transfer.fsckObjects", "true")]  # fmt: skip
        if self.token and credentials:
            parts = urlsplit(self.url)
            basic = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
            config.append(
                (
                    f"http.{parts.scheme}://{parts.netloc}/.extraheader",
                    f"Authorization: Basic {basic}",
                )
            )
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for index, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        self.clear_stale_locks()
        runner = git.Git(str(cwd or self.path))
        try:
            return runner.execute(
                ["git", *args],
                env=self._env(),
                kill_after_timeout=GIT_TIMEOUT_SECONDS,
                strip_newline_in_stdout=True,
            )
        except git.GitCommandError as exc:
            raise SyncError(f"git {args[0]} failed: {self._clean(exc.stderr)}") from None

    def _repo(self) -> git.Repo:
        """GitPython's view of the checkout, kept between syncs (its `cat-file` process
        with it); its own git processes get our environment, without the token: they only
        read local objects, and they live long."""
        if self._open_repo is None:
            self._open_repo = git.Repo(self.path)
        self._open_repo.git.update_environment(**self._env(credentials=False))
        return self._open_repo

    def _forget_repo(self) -> None:
        """Before the checkout is replaced: the old view would read the old objects."""
        if self._open_repo is not None:
            self._open_repo.close()
            self._open_repo = None

    def _ref(self, name: str) -> str:
        """The commit a ref names, read from the files (no git process)."""
        try:
            return git.SymbolicReference.dereference_recursive(self._repo(), name)
        except (ValueError, OSError, git.GitError):
            return self._git("rev-parse", name)

    def _clean(self, text: object) -> str:
        """Git's own message, one line, with anything secret scrubbed."""
        message = " ".join(str(text or "").replace("stderr:", "").split()).strip(" '")
        if self.token:
            message = message.replace(self.token, "***")
        return message[:500] or "no message"

    # -- operations ---------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.path / ".git").is_dir()

    def clear_stale_locks(self) -> None:
        """Remove `*.lock` files a killed git left behind (a container kill, say).

        Our git commands run one at a time, so a lock present before one starts is held by
        no living process.
        """
        folder = self.path / ".git"
        if not folder.is_dir():
            return
        for lock in [*folder.glob("*.lock"), *(folder / "refs").rglob("*.lock")]:
            logger.warning("removing a stale git lock %s", lock.relative_to(self.path))
            lock.unlink(missing_ok=True)

    def restore(self) -> None:
        """Make every tracked file match the checked-out commit (a kill mid-update leaves a mix)."""
        self._git("reset", "--hard", "-q", "HEAD")

    def clone(self) -> str:
        """Clone (or reuse a checkout left by a previous run); return the commit checked out."""
        if self.exists():
            try:
                origin = self._git("config", "--get", "remote.origin.url")
                self.restore()
            except SyncError as exc:
                logger.warning("the checkout left behind is unusable (%s); cloning again", exc)
                self._forget_repo()
                _empty_folder(self.path)
            else:
                if origin != self.url:
                    raise SyncError(f"{self.path} holds a checkout of another repository")
                self.apply(self.plan(self.fetch()))
                return self.head()
        if self.path.exists() and any(self.path.iterdir()):
            raise SyncError(f"{self.path} is not empty and is not a checkout of the repository")
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._git(
                "clone", "--depth", "1", "--single-branch", "--no-tags", "--branch", self.branch,
                "--", self.url, str(self.path),
                cwd=self.path.parent,
            )  # fmt: skip
        except SyncError as exc:
            raise self._classify(exc) from None
        self.fetches += 1
        self._git("config", "gc.auto", "0")
        return self.head()

    def _classify(self, error: SyncError) -> SyncError:
        """A permanent failure as one line naming the problem; anything else stays retryable."""
        for pattern, message in _PERMANENT:
            if pattern.search(str(error)):
                return PermanentSyncError(
                    message.format(branch=self.branch, url=public_url(self.url))
                )
        return error

    def clone_pinned(self, sha: str) -> str:
        """Check out exactly `sha` (a fork preview): fetched by id, never a branch head."""
        if self.exists():
            self.restore()
            if self.head() == sha:
                return sha
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._git("init", "-q", str(self.path), cwd=self.path.parent)
            self._git("remote", "add", "origin", self.url)
            self._git("config", "gc.auto", "0")
        if not self.fetch_commit(sha):
            raise PermanentSyncError(f"commit {sha} was not found in {public_url(self.url)}")
        if (self.path / ".git" / "HEAD").read_text().startswith("ref:") and not self._has_head():
            self._git("checkout", "-q", "--detach", sha)
        else:
            self.apply(self.plan(sha))
            self._git("checkout", "-q", "--detach", sha)
        return self.head()

    def detach(self, sha: str) -> None:
        """Point HEAD at `sha` itself (a pinned checkout follows no branch)."""
        self._git("checkout", "-q", "--detach", sha)

    def _has_head(self) -> bool:
        try:
            self._git("rev-parse", "--verify", "-q", "HEAD")
        except SyncError:
            return False
        return True

    def head(self) -> str:
        return self._ref("HEAD")

    def fetch(self) -> str:
        """Fetch the branch head (force-push safe) and return its commit."""
        self.fetches += 1
        self._git(
            "fetch", "--depth", "1", "--no-tags", "--force", "origin",
            f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}",
        )  # fmt: skip
        return self._ref(f"refs/remotes/origin/{self.branch}")

    def has_commit(self, sha: str) -> bool:
        try:
            self._git("cat-file", "-e", f"{sha}^{{commit}}")
        except SyncError:
            return False
        return True

    def fetch_commit(self, sha: str) -> bool:
        """Make sure `sha` exists locally, fetching it by id; False when the remote lacks it."""
        if self.has_commit(sha):
            return True
        self.fetches += 1
        try:
            self._git("fetch", "--depth", "1", "--no-tags", "origin", sha)
        except SyncError:
            return False
        return self.has_commit(sha)

    def is_on_branch(self, sha: str, head: str) -> bool:
        """Whether `sha` is `head` or one of its ancestors, deepening the shallow history as
        needed (a commit of another branch must not be taken for an older one of ours)."""
        for depth in ("50", "1000", None):
            try:
                self._git("merge-base", "--is-ancestor", sha, head)
                return True
            except SyncError:
                pass
            if depth is None:
                return False
            self.fetches += 1
            self._git(
                "fetch", "--depth", depth, "--no-tags", "--force", "origin",
                f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}",
            )  # fmt: skip
        return False

    def plan(self, target: str) -> Update:
        """What bringing the working tree to `target` will change (nothing is written)."""
        current = self.head()
        if current == target:
            return Update(target, [])
        try:  # read through the checkout's long-lived cat-file process: no git to start
            repo = self._repo()
            old, new = (repo.commit(sha).tree.binsha for sha in (current, target))
            entries = _diff_trees(_tree_reader(repo), old, new)
        except Exception as exc:  # any surprise of the object reader: git itself answers
            logger.debug("reading the trees failed (%s); asking git diff-tree", exc)
            raw = self._git("diff-tree", "-r", "-z", "--no-renames", current, target)
            entries = _parse_raw_diff(raw)
        return Update(target, entries)

    def apply(self, update: Update) -> Changes:
        """Carry out a planned update file by file; return what changed."""
        if not update.entries:
            return Changes()
        try:
            self._write_entries(update.entries)
        except OSError as exc:
            logger.warning("file-by-file update failed (%s); falling back to a hard reset", exc)
            self._git("reset", "--hard", "-q", update.target)
        else:
            self._git("reset", "--mixed", "-q", update.target)
        return update.changes

    def _write_entries(self, entries: list[tuple[str, str, str, str]]) -> None:
        for _, _, _, rel in entries:  # before anything is written
            _check_path(rel)
        repo = self._repo()
        for status, mode, _, rel in entries:
            if status != "D" and mode == _SUBMODULE_MODE:  # git leaves an empty folder
                self._remove(rel)
                _make_parent_dirs(self.path, self.path / rel)
                (self.path / rel).mkdir(exist_ok=True)
        writes = [e for e in entries if e[0] != "D" and e[1] != _SUBMODULE_MODE]
        # The main script last: its rerun must see every other file already new.
        writes.sort(key=lambda e: (e[3] == self.main_script, e[3]))
        # Written beside .git's objects (same file system, never a committed path, short
        # name) and renamed into place.
        tmp_dir = self.path / ".git" / "preview-tmp"
        tmp_dir.mkdir(exist_ok=True)
        folders_ready: set[Path] = set()  # parents already made safe in this update
        for _, mode, blob, rel in writes:
            data = repo.git.get_object_data(blob)[3]
            self._place(rel, mode, data, tmp_dir=tmp_dir, folders_ready=folders_ready)
        for status, _, _, rel in entries:
            if status == "D":
                self._remove(rel)

    def _place(
        self, rel: str, mode: str, data: bytes, *, tmp_dir: Path, folders_ready: set[Path]
    ) -> None:
        dest = self.path / rel
        _make_parent_dirs(self.path, dest, folders_ready)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISDIR(os.lstat(dest).st_mode):  # a folder the commit turned into a file
                shutil.rmtree(dest)
        tmp = tmp_dir / secrets.token_hex(8)
        if mode == _SYMLINK_MODE:
            os.symlink(data.decode(), tmp)
        else:
            tmp.write_bytes(data)
            tmp.chmod(0o755 if mode == _EXECUTABLE_MODE else 0o644)
        os.replace(tmp, dest)

    def _remove(self, rel: str) -> None:
        dest = self.path / rel
        if _has_symlinked_parent(self.path, dest):
            return  # the file is not in the checkout: its folder became a link elsewhere
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        parent = dest.parent
        while parent != self.path and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent

    def read_at(self, commit: str, rel: str) -> bytes | None:
        """The content of `rel` in `commit`, or None when the commit has no such file."""
        repo = self._repo()
        try:
            blob = repo.commit(commit).tree / rel
            return blob.data_stream.read()
        except (KeyError, ValueError):
            return None

    def read_file(self, rel: str) -> bytes | None:
        """The checked-out content of `rel`, or None when absent."""
        try:
            return (self.path / rel).read_bytes()
        except OSError:
            return None


def _check_path(rel: str) -> None:
    """Refuse a path git itself would not check out: it could write outside the checkout."""
    parts = rel.split("/")
    for part in parts:
        if part in ("", ".", "..") or part.lower() == ".git" or "\\" in part or "\0" in part:
            raise SyncError(f"the commit has a path git refuses to check out: {rel!r}")


def _has_symlinked_parent(root: Path, dest: Path) -> bool:
    return any(
        (root / parent).is_symlink()
        for parent in dest.relative_to(root).parents
        if str(parent) != "."
    )


def _empty_folder(folder: Path) -> None:
    """Remove everything inside `folder`, keeping the folder (an emptyDir's mount point)."""
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _make_parent_dirs(root: Path, dest: Path, ready: set[Path] | None = None) -> None:
    """Create dest's parents, replacing a file (or a link) that sits where a directory must
    go. Folders in `ready` were already made so in this update and are skipped."""
    for parent in reversed(dest.relative_to(root).parents):
        folder = root / parent
        if ready is not None and folder in ready:
            continue
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink()
        folder.mkdir(exist_ok=True)
        if ready is not None:
            ready.add(folder)


_TREE_MODE = 0o040000
_NO_BLOB = "0" * 40


TreeReader = Callable[[bytes], list[tuple[bytes, int, str]]]  # tree id → (id, mode, name)


def _tree_reader(repo: git.Repo) -> TreeReader:
    """Raw tree records read through the repository's cat-file process (no object model:
    a submodule entry is just a mode and an id)."""

    def read(binsha: bytes) -> list[tuple[bytes, int, str]]:
        return tree_entries_from_data(repo.odb.stream(binsha).read())

    return read


def _diff_trees(read: TreeReader, old: bytes | None, new: bytes | None,
                prefix: str = "") -> list[tuple[str, str, str, str]]:  # fmt: skip
    """What `git diff-tree -r --no-renames` says between two trees (ids, or None for no
    tree), as (status, new mode, new blob, path) in path order: only subtrees whose ids
    differ are read."""
    before = {name: (mode, sha) for sha, mode, name in read(old)} if old else {}
    after = {name: (mode, sha) for sha, mode, name in read(new)} if new else {}
    changes: list[tuple[str, str, str, str]] = []
    for name in before.keys() | after.keys():
        path = prefix + name
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        was_tree = was is not None and was[0] == _TREE_MODE
        now_tree = now is not None and now[0] == _TREE_MODE
        if was_tree and now_tree:
            changes += _diff_trees(read, was[1], now[1], path + "/")  # type: ignore[index]
            continue
        if was_tree:  # a folder became a file, or went away
            changes += _diff_trees(read, was[1], None, path + "/")  # type: ignore[index]
            if now is None:
                continue
            was = None
        if now_tree:  # a file became a folder, or one came
            if was is not None:
                changes.append(("D", "000000", _NO_BLOB, path))
            changes += _diff_trees(read, None, now[1], path + "/")  # type: ignore[index]
            continue
        if was is None and now is not None:
            changes.append(("A", f"{now[0]:06o}", now[1].hex(), path))
        elif now is None:
            changes.append(("D", "000000", _NO_BLOB, path))
        elif was is not None:
            kind_changed = (was[0] & 0o170000) != (now[0] & 0o170000)
            changes.append(("T" if kind_changed else "M", f"{now[0]:06o}", now[1].hex(), path))
    return sorted(changes, key=lambda entry: entry[3].encode())


def _parse_raw_diff(raw: str) -> list[tuple[str, str, str, str]]:
    """Parse `diff-tree -r -z` raw output into (status, new_mode, new_blob, path)."""
    fields = raw.split("\0")
    entries: list[tuple[str, str, str, str]] = []
    i = 0
    while i + 1 < len(fields):
        meta = fields[i]
        if not meta.startswith(":"):
            i += 1
            continue
        _, new_mode, _, new_blob, status = meta[1:].split(" ")
        entries.append((status[0], new_mode, new_blob, fields[i + 1]))
        i += 2
    return entries


def _normalise_url(url: str) -> str:
    """A plain local path becomes a file:// URL so that shallow clones really are shallow."""
    if "://" not in url and not _is_scp_like(url) and Path(url).exists():
        return Path(url).absolute().as_uri()
    return url


def _is_scp_like(url: str) -> bool:
    head, sep, _ = url.partition(":")
    return bool(sep) and "/" not in head and len(head) > 1


def public_url(url: str) -> str:
    """The URL without any user information, safe for `/status` and logs."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return parts._replace(netloc=host).geturl()
    return url
