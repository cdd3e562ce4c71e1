"""`reloader/pagecheck.py` in process: how the `ForwardMsg`s of one run (Streamlit's own
protobuf classes) become what the page showed. The session over a real Streamlit is tested
in tests/cli/test_page_check.py."""

from __future__ import annotations

from pathlib import Path

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from streamlit_preview.reloader.pagecheck import AppError, PageCheck, take

WORKDIR = Path("/workspace/checkout")


def exception_element(
    kind: str, message: str, trace: list[str], *, warning: bool = False
) -> ForwardMsg:
    msg = ForwardMsg()
    exception = msg.delta.new_element.exception
    exception.type, exception.message, exception.is_warning = kind, message, warning
    exception.stack_trace.extend(trace)
    return msg


def finished(status: int) -> ForwardMsg:
    msg = ForwardMsg()
    msg.script_finished = status  # type: ignore[assignment]
    return msg


def fold(*messages: ForwardMsg) -> tuple[PageCheck, int]:
    """The check after the messages, and how many were read before the run was over."""
    result = PageCheck()
    for count, message in enumerate(messages, start=1):
        if take(message, result, workdir=WORKDIR, app="streamlit_app.py"):
            return result, count
    return result, len(messages)


def test_an_exception_in_the_apps_own_code_names_its_file_and_line():
    trace = [f'File "{WORKDIR}/pages/data.py", line 7, in <module>', 'File "/usr/lib/x.py", line 1']
    result, read = fold(
        exception_element("KeyError", "'price'", trace),
        finished(ForwardMsg.FINISHED_SUCCESSFULLY),
        exception_element("ValueError", "never read", []),
    )
    assert read == 2 and result.finished
    assert result.errors == [
        AppError(type="KeyError", message="'price'", file="pages/data.py", line=7)
    ]


def test_warnings_are_not_errors_and_a_rerun_judges_the_newer_run():
    result, _ = fold(
        exception_element("DeprecationWarning", "old", [], warning=True),
        exception_element("NameError", "x", []),
        finished(ForwardMsg.FINISHED_EARLY_FOR_RERUN),
        finished(ForwardMsg.FINISHED_SUCCESSFULLY),
    )
    assert result.finished and result.errors == []


def test_a_compile_error_ends_the_run_with_its_line_from_the_message():
    compile_error = ForwardMsg()
    exception = compile_error.session_event.script_compilation_exception
    exception.type = "SyntaxError"
    exception.message = "File \"/workspace/checkout/streamlit_app.py\", line 3\n  x = (\nSyntaxError: '(' was never closed"
    result, read = fold(finished(ForwardMsg.FINISHED_WITH_COMPILE_ERROR), compile_error)
    assert read == 2 and result.finished
    assert result.errors == [AppError(type="SyntaxError", message="'(' was never closed",
                                      file="streamlit_app.py", line=3)]  # fmt: skip


def test_the_page_title_is_the_one_the_app_sets():
    titled = ForwardMsg()
    titled.page_config_changed.title = "Sales"
    result, read = fold(titled, finished(ForwardMsg.FINISHED_SUCCESSFULLY))
    assert (result.title, read) == ("Sales", 2)
    untitled, _ = fold(finished(ForwardMsg.FINISHED_SUCCESSFULLY))
    assert untitled.title is None  # check_page then names it after the script
