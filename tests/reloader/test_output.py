"""Output of any shape never breaks a preview: a line longer than a pipe's buffer, `\\r`
progress bars, floods. Streamlit's and setup's output are read in chunks and cut, the pipe
is always drained, and `/healthz` fails if the loop that drains it has died."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from streamlit_preview.redact import MASK, Redactor
from streamlit_preview.reloader.lines import CUT, MAX_LINE, output_lines
from tests.fixtures.processes import wait_for

NOISY = 'import streamlit as st\nprint("x" * 200_000, flush=True)\nprint("10%\\r20%\\r30%", flush=True)\nst.write("{text}")\n'


def _lines(data: bytes, chunk: int = 7, redact=lambda text: text) -> list[str]:  # type: ignore[no-untyped-def]
    async def collect() -> list[str]:
        reader = asyncio.StreamReader()
        for start in range(0, len(data), chunk):
            reader.feed_data(data[start : start + chunk])
        reader.feed_eof()
        return [line async for line in output_lines(reader, redact=redact)]

    # In a thread of its own: the session's Playwright runs an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, collect()).result()


def test_lines_of_any_length_and_carriage_returns():
    long = b"y" * (3 * 65536)
    lines = _lines(b"first\n" + long + b"\nafter\r\nbar 10%\rbar 20%\rdone", chunk=4096)
    assert lines[0] == "first"
    assert lines[1] == "y" * MAX_LINE + CUT
    assert lines[2:] == ["after", "bar 10%", "bar 20%", "done"]


def test_a_secret_across_the_cut_is_masked_whole_not_left_half_visible():
    secret = "s3cr3t-" + "k" * 50
    line = b"z" * (MAX_LINE - 20) + secret.encode() + b"z" * 70_000  # the cut falls inside it
    redactor = Redactor([secret])
    (cut,) = _lines(line + b"\n", chunk=4096, redact=redactor)
    assert cut.endswith(CUT)
    assert "s3cr3t" not in cut and "kkkkk" not in cut  # no part of it
    assert MASK in cut


@pytest.mark.browser
def test_an_app_that_prints_a_huge_line_keeps_following_commits(remote, start_reloader, page):
    remote.commit({"streamlit_app.py": NOISY.format(text="noisy v1")})
    reloader = start_reloader(remote.url)
    reloader.wait_ready()
    page.goto(reloader.url)
    page.get_by_text("noisy v1").wait_for(timeout=30_000)
    for n in range(2, 5):  # each run prints 200 KB more: a pipe nobody drains is full by now
        new = remote.commit({"streamlit_app.py": NOISY.format(text=f"noisy v{n}")})
        assert reloader.sync(new).status_code == 200
        page.get_by_text(f"noisy v{n}").wait_for(timeout=15_000)
    assert reloader.http.get("/healthz").status_code == 200
    assert wait_for(lambda: CUT.strip() in reloader.log(), timeout=10)
    assert "x" * (MAX_LINE + 1) not in reloader.log()
