"""The checkout's file-by-file update matches what git itself would check out."""

from __future__ import annotations

import os

from streamlit_preview.reloader.gitsync import Checkout
from tests.fixtures.gitrepo import git


def _tree(root):  # type: ignore[no-untyped-def]
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            else:
                with open(path, "rb") as fh:
                    out[rel] = (oct(os.stat(path).st_mode & 0o111 != 0), fh.read())
    return out


def test_apply_matches_a_fresh_clone_through_renames_types_links_and_modes(tmp_path, remote):
    checkout = Checkout(
        url=remote.url, branch="main", path=tmp_path / "co", main_script="streamlit_app.py"
    )
    checkout.clone()
    steps = [
        {"pkg/a.py": "A = 1\n", "data/x.csv": "a,b\n", "run.sh": "#!/bin/sh\n"},
        {"pkg": None, "pkg/a.py": None},  # whole package removed
        {"data/x.csv": None, "data": "now a file\n"},  # directory becomes a file
        {"data": None, "data/y.csv": "c\n"},  # and back
    ]
    for files in steps:
        for rel, content in files.items():
            if content is None:
                if (remote.work / rel).exists():
                    git("rm", "-q", "-r", "--", rel, cwd=remote.work)
                continue
            path = remote.work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            git("add", "--", rel, cwd=remote.work)
        if (remote.work / "run.sh").exists():
            os.chmod(remote.work / "run.sh", 0o755)
            git("add", "run.sh", cwd=remote.work)
        if not (remote.work / "link").is_symlink():
            os.symlink("streamlit_app.py", remote.work / "link")
            git("add", "link", cwd=remote.work)
        git("commit", "-q", "-m", "step", cwd=remote.work)
        remote.push()

        changes = checkout.apply(checkout.plan(checkout.fetch()))

        assert changes
        fresh = tmp_path / f"fresh{len(os.listdir(tmp_path))}"
        git("clone", "-q", remote.url, str(fresh), cwd=tmp_path)
        assert _tree(checkout.path) == _tree(fresh)
        assert git("status", "--porcelain", cwd=checkout.path) == ""


def test_fetch_counts_and_unchanged_apply_is_empty(tmp_path, remote):
    checkout = Checkout(url=remote.url, branch="main", path=tmp_path / "co")
    checkout.clone()
    head = checkout.fetch()
    assert not checkout.apply(checkout.plan(head))
    assert checkout.fetches == 2


def test_local_path_becomes_shallow_file_url(tmp_path, remote):
    remote.commit({"a.txt": "1"})
    checkout = Checkout(url=str(remote.remote), branch="main", path=tmp_path / "co")
    assert checkout.url.startswith("file://")
    checkout.clone()
    assert git("rev-list", "--count", "HEAD", cwd=checkout.path) == "1"
