"""What a reviewer sees: the open tab follows the branch with no navigation and no error flash."""

from __future__ import annotations

import pytest

from tests.fixtures.browser import ERROR_RECORDER

pytestmark = pytest.mark.browser


def _open(page, reloader):  # type: ignore[no-untyped-def]
    page.add_init_script(ERROR_RECORDER)
    page.goto(reloader.url)
    page.get_by_text("Hello version 1").wait_for(timeout=30_000)
    return page.evaluate("performance.timeOrigin")


def test_open_page_updates_after_signed_sync_without_navigation(remote, reloader, page):
    origin = _open(page, reloader)
    new = remote.commit(
        {"streamlit_app.py": 'import streamlit as st\nst.title("Hello version 2")\n'}
    )

    assert reloader.sync(new).json()["commit"] == new

    page.get_by_text("Hello version 2").wait_for(timeout=10_000)
    assert page.evaluate("performance.timeOrigin") == origin, "the page navigated"
    assert page.evaluate("window.__previewErrors") == []


def test_multi_file_commits_never_flash_an_error(remote, reloader, page):
    """Each commit adds a module and changes the script that imports it."""
    _open(page, reloader)
    for i in range(1, 9):
        files = {
            f"helpers/mod{i}.py": f"VALUE = 'value {i}'\n",
            "helpers/__init__.py": "",
            "streamlit_app.py": (
                f"import streamlit as st\nfrom helpers.mod{i} import VALUE\n"
                f'st.title("Hello version 1")\nst.write("step", VALUE)\n'
            ),
        }
        if i > 1:
            files[f"helpers/mod{i - 1}.py"] = None
        new = remote.commit(files, f"step {i}")
        assert reloader.sync(new).status_code == 200
        page.get_by_text(f"value {i}").wait_for(timeout=10_000)
    assert page.evaluate("window.__previewErrors") == []


def test_new_data_file_and_new_page_rerun_without_reload(remote, reloader, page):
    """Streamlit does not watch data files: the reloader forces the rerun."""
    script = (
        "import pathlib, streamlit as st\n"
        'st.title("Hello version 1")\n'
        "p = pathlib.Path('message.txt')\n"
        "st.write(p.read_text() if p.exists() else 'no message yet')\n"
    )
    first = remote.commit({"streamlit_app.py": script})
    assert reloader.sync(first).status_code == 200
    origin = _open(page, reloader)
    page.get_by_text("no message yet").wait_for(timeout=10_000)

    second = remote.commit({"message.txt": "a message from the branch"})
    answer = reloader.sync(second).json()

    page.get_by_text("a message from the branch").wait_for(timeout=10_000)
    assert answer["commit"] == second and answer["restarted"] is False
    assert page.evaluate("performance.timeOrigin") == origin  # rerun in place, no reload


def test_syntax_error_shows_in_page_then_recovers(remote, reloader, page):
    origin = _open(page, reloader)
    remote.commit({"streamlit_app.py": "import streamlit as st\nst.title('Hello broken'\n"})
    assert reloader.sync(remote.head()).status_code == 200
    page.get_by_text("SyntaxError").first.wait_for(timeout=10_000)

    remote.commit({"streamlit_app.py": 'import streamlit as st\nst.title("Hello repaired")\n'})
    assert reloader.sync(remote.head()).status_code == 200
    page.get_by_text("Hello repaired").wait_for(timeout=10_000)
    assert page.get_by_text("SyntaxError").count() == 0  # the error block is gone
    assert page.evaluate("performance.timeOrigin") == origin


def test_new_requirement_reaches_the_open_tab_without_an_error(tmp_path, remote, reloader, page):
    """The package is installed before the script that imports it lands: no ImportError."""
    from tests.fixtures.wheels import make_wheel

    _open(page, reloader)
    wheel = make_wheel(tmp_path, "previewdep", "1.0", "GREETING = 'hello from a new package'\n")
    app = 'import streamlit as st\nimport previewdep\nst.title("Hello version 1")\nst.write(previewdep.GREETING)\n'
    new = remote.commit(
        {"requirements.txt": f"previewdep @ {wheel.as_uri()}\n", "streamlit_app.py": app}
    )

    assert reloader.sync(new).json()["restarted"] is False
    page.get_by_text("hello from a new package").wait_for(timeout=15_000)
    assert page.evaluate("window.__previewErrors") == []
