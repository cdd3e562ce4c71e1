"""`reloader/contract.py`: the reloader's `PREVIEW_*` environment is written in one place.

Covers: every variable of the table is a flag or read by name; the parser and every writer
(render, the local backend, the tests' reloaders) use the table, never a literal; the same
settings give the same reloader environment on both backends; an unknown key is refused."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from streamlit_preview.config import build_settings, make_target
from streamlit_preview.reloader import contract
from streamlit_preview.reloader.config import build_parser
from streamlit_preview.render import render_manifests

ROOT = Path(__file__).resolve().parents[2]
LITERAL = re.compile(r"PREVIEW_[A-Z][A-Z_]*")
TABLE = {variable.name for variable in contract.VARIABLES}


def test_no_contract_variable_is_spelled_outside_the_table():
    """A `PREVIEW_*` name of the table used as a value anywhere else in the package, the
    tests' fixtures or the benches could drift from it (as PREVIEW_SETUP_WATCH once did);
    prose that names one for people is fine."""
    places = [*(ROOT / "streamlit_preview").rglob("*.py"), *(ROOT / "tests" / "fixtures").rglob("*.py"),
              *(ROOT / "bench").rglob("*.py"), *(ROOT / "devcluster").rglob("*.py")]  # fmt: skip
    assert len(places) > 40
    found = {}
    for path in places:
        if path.name == "contract.py" or "example_app" in path.parts:
            continue
        names = {node.value for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)
                 and LITERAL.fullmatch(node.value)} & TABLE  # fmt: skip
        if names:
            found[str(path.relative_to(ROOT))] = sorted(names)
    assert found == {}


def test_every_flag_of_the_parser_comes_from_the_table():
    parser = build_parser({})
    flags = {a.dest for a in parser._actions if a.dest != "help"}
    assert flags == {v.key for v in contract.VARIABLES if v.flag}
    environ = {contract.env_name("clear_cache"): "all", contract.env_name("app"): "app/main.py"}
    args = build_parser(environ).parse_args([])
    assert (args.clear_cache, args.app, args.bind) == ("all", "app/main.py", "0.0.0.0")


def test_an_unknown_key_is_refused():
    with pytest.raises(TypeError, match="not in the reloader's contract: colour"):
        contract.environment(colour="blue")


def test_the_pod_gets_what_the_settings_decide():
    target = make_target(repository="acme/shop", repo_url="https://github.com/acme/shop.git",
                         branch="feature/x", pr=3, sha=None)  # fmt: skip
    settings = build_settings({"domain": "previews.example.com", "setup": "make data",
                               "setup-watch": "data/*.csv", "clear-cache": "all"}, target)  # fmt: skip
    deployment = next(
        o for o in render_manifests(settings, webhook_key="k") if o["kind"] == "Deployment"
    )
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    expected = contract.for_settings(settings)
    assert {k: env[k] for k in expected} == expected
    assert env[contract.env_name("setup_watch")] == "data/*.csv"
    assert env[contract.env_name("clear_cache")] == "all"
    assert env[contract.env_name("public_url")] == "https://acme-shop-pr-3.previews.example.com"
