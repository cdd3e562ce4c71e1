"""The runner protocol: what GitHub's runner reads back from our files and workflow commands."""

from __future__ import annotations

import io

from streamlit_preview.runner import Runner


def test_outputs_survive_multiline_values_and_summary_appends(tmp_path):
    output, summary = tmp_path / "output", tmp_path / "summary"
    runner = Runner(
        {"GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}, io.StringIO()
    )
    runner.set_output("url", "https://x/")
    runner.set_output("note", "line one\nline two")
    runner.summary("# one")
    runner.summary("# two")
    text = output.read_text()
    assert "url<<ghadelimiter_" in text and "\nline one\nline two\n" in text
    assert summary.read_text() == "# one\n# two\n"


def test_commands_escape_what_would_break_them():
    out = io.StringIO()
    runner = Runner({}, out)
    runner.error("bad: 100%\nsecond line", title="a, b: c")
    runner.mask("s3cret\nother")
    with runner.group("apply"):
        runner.info("inside")
    lines = out.getvalue().splitlines()
    assert lines[0] == "::error title=a%2C b%3A c::bad: 100%25%0Asecond line"
    assert lines[1:3] == ["::add-mask::s3cret", "::add-mask::other"]
    assert lines[3:] == ["::group::apply", "inside", "::endgroup::"]


def test_inputs_are_read_as_the_runner_names_them():
    runner = Runner({"INPUT_WAIT-TIMEOUT": " 5m ", "INPUT_SECRET-ENV": "A=1\nB=2"})
    assert runner.input("wait-timeout") == "5m"
    assert runner.inputs(["secret-env", "gpu"]) == {"secret-env": "A=1\nB=2", "gpu": ""}
    assert runner.run_url is None
