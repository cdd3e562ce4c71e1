"""The reloader against crashes and hostile commits, with real git and real processes.

Covers: stale git locks and a half-written update left by a kill; runtime folders of killed
reloaders; trees git refuses to check out; deletes under a folder that became a symlink; a
file replaced by a submodule; committed names like the writer's temporary names; very long
names.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.fixtures.gitrepo import git
from tests.fixtures.processes import ReloaderProcess


def _restart(folder: Path, remote, started: list) -> ReloaderProcess:  # type: ignore[no-untyped-def]
    process = ReloaderProcess(folder, remote.url)
    started.append(process)
    return process


def _kill(process: ReloaderProcess) -> None:
    os.killpg(process.process.pid, signal.SIGKILL)
    process.process.wait(10)


def test_stale_git_locks_and_a_half_written_update_are_recovered_at_start(tmp_path, remote):
    started: list[ReloaderProcess] = []
    try:
        first = _restart(tmp_path, remote, started)
        first.wait_ready()
        _kill(first)
        checkout = first.workdir
        for lock in ("index.lock", "shallow.lock", "HEAD.lock"):
            (checkout / ".git" / lock).write_text("")
        (checkout / "streamlit_app.py").write_text("half of another commit\n")
        new = remote.commit(
            {"streamlit_app.py": "import streamlit as st\nst.title('after the crash')\n"}
        )

        second = _restart(tmp_path, remote, started)
        second.wait_ready(timeout=60)

        assert second.status()["commit"] == new
        assert "after the crash" in (checkout / "streamlit_app.py").read_text()
        assert not list((checkout / ".git").glob("*.lock"))
    finally:
        for process in started:
            process.stop()


def test_a_mix_of_two_commits_is_restored_even_when_the_branch_did_not_move(tmp_path, remote):
    started: list[ReloaderProcess] = []
    try:
        first = _restart(tmp_path, remote, started)
        first.wait_ready()
        _kill(first)
        (first.workdir / "streamlit_app.py").write_text(
            "import streamlit as st\nst.title('mixed')\n"
        )

        second = _restart(tmp_path, remote, started)
        second.wait_ready(timeout=60)

        assert "mixed" not in (first.workdir / "streamlit_app.py").read_text()
        assert second.status()["commit"] == remote.head()
    finally:
        for process in started:
            process.stop()


def test_runtime_folders_of_killed_reloaders_are_cleaned_at_start(tmp_path, remote, start_reloader):
    def runtime_of(pid: int) -> set[Path]:
        found = set()
        for folder in Path(tempfile.gettempdir()).glob("streamlit-preview-*"):
            owner = folder / "reloader.owner"
            if owner.exists() and owner.read_text().split()[0] == str(pid):
                found.add(folder)
        return found

    victim = start_reloader(remote.url)
    victim.wait_ready()
    left = runtime_of(victim.process.pid)
    assert left
    _kill(victim)

    survivor = start_reloader(remote.url)
    survivor.wait_ready()

    assert not any(folder.exists() for folder in left)
    assert runtime_of(survivor.process.pid), "the running reloader keeps its own"


def _commit_tree(remote, entries: list[tuple[str, str, str]], message: str) -> str:  # type: ignore[no-untyped-def]
    """A commit whose root tree holds exactly `entries` (mode, type, name→content or sha)."""
    work = remote.work
    lines = []
    for mode, name, content in entries:
        if mode == "040000":
            sha = content
            kind = "tree"
        elif mode == "160000":
            sha, kind = content, "commit"
        else:
            sha = subprocess.run(["git", "hash-object", "-w", "--stdin"], input=content.encode(),
                                 cwd=work, capture_output=True, check=True).stdout.decode().strip()  # fmt: skip
            kind = "blob"
        lines.append(f"{mode} {kind} {sha}\t{name}")
    tree = subprocess.run(["git", "mktree"], input="\n".join(lines).encode() + b"\n", cwd=work,
                          capture_output=True, check=True).stdout.decode().strip()  # fmt: skip
    parent = git("rev-parse", "HEAD", cwd=work)
    commit = git("commit-tree", tree, "-p", parent, "-m", message, cwd=work)
    git("reset", "-q", "--soft", commit, cwd=work)
    git("push", "-q", "origin", f"{commit}:refs/heads/main", cwd=work)
    return commit


def test_a_tree_git_refuses_is_refused_and_the_preview_keeps_serving(remote, reloader):
    app = remote.work.joinpath("streamlit_app.py").read_text()
    inner = subprocess.run(["git", "mktree"], cwd=remote.work, capture_output=True, check=True,
                           input=b"100644 blob " + subprocess.run(
                               ["git", "hash-object", "-w", "--stdin"], input=b"[core]\n\tfsmonitor = touch /tmp/pwned\n",
                               cwd=remote.work, capture_output=True, check=True).stdout.strip() + b"\tconfig\n",
                           ).stdout.decode().strip()  # fmt: skip
    before = reloader.status()["commit"]
    hostile = _commit_tree(
        remote, [("100644", "streamlit_app.py", app), ("040000", ".GIT", inner)], "hostile"
    )

    answer = reloader.sync(hostile)

    assert answer.status_code >= 400
    assert reloader.status()["commit"] == before
    assert not (reloader.workdir / ".GIT").exists()
    assert "fsmonitor" not in (reloader.workdir / ".git" / "config").read_text()
    assert reloader.http.get("/readyz").status_code == 200


def test_deleting_under_a_folder_that_became_a_symlink_stays_inside(tmp_path, remote, reloader):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the checkout's\n")
    first = remote.commit({"data/keep.txt": "the checkout's\n"})
    assert reloader.sync(first).status_code == 200
    git("rm", "-q", "-r", "data", cwd=remote.work)
    os.symlink(str(outside), remote.work / "data")
    git("add", "data", cwd=remote.work)
    git("commit", "-q", "-m", "data becomes a link", cwd=remote.work)
    remote.push()

    assert reloader.sync(remote.head()).status_code == 200

    assert (outside / "keep.txt").read_text() == "not the checkout's\n"


def test_a_file_replaced_by_a_submodule_leaves_no_file(remote, reloader):
    first = remote.commit({"lib": "a file\n"})
    assert reloader.sync(first).status_code == 200
    git("rm", "-q", "--cached", "lib", cwd=remote.work)
    (remote.work / "lib").unlink()
    git("update-index", "--add", "--cacheinfo", f"160000,{first},lib", cwd=remote.work)
    git("commit", "-q", "-m", "lib is a submodule", cwd=remote.work)
    remote.push()

    assert reloader.sync(remote.head()).status_code == 200

    assert (reloader.workdir / "lib").is_dir()


def test_names_like_the_writers_temporary_files_and_very_long_names(remote, reloader):
    long_name = "n" * 240 + ".txt"
    first = remote.commit({"x.txt": "1\n", ".x.txt.preview-tmp": "committed\n", long_name: "1\n"})
    assert reloader.sync(first).status_code == 200
    second = remote.commit({"x.txt": "2\n", long_name: "2\n"})

    assert reloader.sync(second).status_code == 200

    assert (reloader.workdir / ".x.txt.preview-tmp").read_text() == "committed\n"
    assert (reloader.workdir / long_name).read_text() == "2\n"
    assert "falling back to a hard reset" not in reloader.log()


def test_a_hung_streamlit_is_restarted_and_a_lasting_hang_fails_healthz(reloader):
    """SIGSTOP stands for a deadlock: alive, but no longer answering its health check."""
    from tests.fixtures.processes import wait_for

    for round_ in range(3):
        pid = reloader.status()["streamlit"]["pid"]
        os.kill(pid, signal.SIGSTOP)
        wait_for(
            lambda pid=pid: (s := reloader.status()["streamlit"])["pid"] not in (None, pid) and s["state"] == "running",
            timeout=60, message=f"a hung Streamlit was not restarted (round {round_})",
        )  # fmt: skip
        if round_ < 2:
            assert reloader.http.get("/healthz").status_code == 200
    assert reloader.http.get("/healthz").status_code == 503
