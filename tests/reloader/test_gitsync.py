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


def test_plan_reads_the_trees_as_git_diff_tree_would(tmp_path, remote):
    """The plan is read through the checkout's long-lived cat-file process, without starting
    git; it must say exactly what `git diff-tree -r --no-renames` says."""
    from streamlit_preview.reloader.gitsync import _diff_trees, _parse_raw_diff, _tree_reader

    checkout = Checkout(url=remote.url, branch="main", path=tmp_path / "co")
    checkout.clone()
    steps = [
        {
            "pkg/a.py": "A = 1\n",
            "pkg/sub/b.py": "B\n",
            "data/x.csv": "a\n",
            "a.txt": "t\n",
            "run.sh": "x\n",
        },
        {"pkg/a.py": "A = 2\n", "pkg/sub/c.py": "C\n", "data/x.csv": None},
        {"a.txt": None, "a": "now a file named a\n", "pkg/sub/b.py": None},
        {"data": "a file where a folder was\n"},
        {"data": None, "data/z.csv": "z\n", "a-b": "dash\n"},
    ]
    compared = 0
    for files in steps:
        before = git("rev-parse", "HEAD", cwd=remote.work)
        remote.commit(files)
        after = git("rev-parse", "HEAD", cwd=remote.work)
        if files is steps[1]:
            os.chmod(remote.work / "run.sh", 0o755)
            git("add", "run.sh", cwd=remote.work)
            os.symlink("a.txt", remote.work / "alias")
            git("add", "alias", cwd=remote.work)
            git("commit", "-q", "-m", "mode and link", cwd=remote.work)
            remote.push()
            after = git("rev-parse", "HEAD", cwd=remote.work)
        checkout.fetch()
        repo = checkout._repo()
        ours = _diff_trees(_tree_reader(repo), repo.commit(before).tree.binsha,
                           repo.commit(after).tree.binsha)  # fmt: skip
        raw = git("diff-tree", "-r", "-z", "--no-renames", before, after, cwd=checkout.path)
        assert [(s, m, p) for s, m, _, p in ours] == [
            (s, m, p) for s, m, _, p in _parse_raw_diff(raw)
        ]
        assert {b for s, _, b, _ in ours if s != "D"} == {
            b for s, _, b, _ in _parse_raw_diff(raw) if s != "D"
        }
        compared += 1
    assert compared == len(steps)
