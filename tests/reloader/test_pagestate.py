"""`reloader/pagestate.py` in process: what `/status` says of the page, with and without its
signed detail."""

from __future__ import annotations

from streamlit_preview.reloader.pagecheck import AppError
from streamlit_preview.reloader.pagestate import Look, PageState

SHA = "c" * 40
ERROR = AppError(type="KeyError", message="'token ghp_secret123' not found", file="app.py", line=4)


def test_a_page_with_an_exception_is_an_app_error_of_that_commit():
    state = PageState.found(SHA, [ERROR], title="Sales", note=None)
    page = state.as_dict(detail=False)
    assert page["state"] == Look.APP_ERROR and page["checked_commit"] == SHA
    assert page["error"] == {"type": "KeyError", "file": "app.py", "line": 4, "message": None}
    assert page["errors"] == 1 and page["title"] == "Sales" and page["checked_at"]


def test_the_message_is_in_the_signed_detail_only_and_redacted():
    state = PageState.found(SHA, [ERROR], title=None, note=None)
    detail = state.as_dict(detail=True, redact=lambda text: text.replace("ghp_secret123", "***"))
    assert detail["error"] is not None
    assert detail["error"]["message"] == "'token ***' not found"


def test_a_look_under_way_or_not_taken_names_no_commit():
    assert (
        PageState(state=Look.CHECKING, commit=SHA).as_dict(detail=False)["checked_commit"] is None
    )
    assert PageState().as_dict(detail=False)["state"] == Look.NOT_CHECKED
    clean = PageState.found(SHA, [], title="Sales", note=None).as_dict(detail=False)
    assert (clean["state"], clean["error"], clean["checked_commit"]) == (Look.OK, None, SHA)
