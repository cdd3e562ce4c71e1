"""Write docs/reference.md from action.yml (`--check`: fail if it is out of date).

The inputs and outputs reference is generated, never edited by hand, so it cannot drift
from what the action really accepts (the way actions/checkout keeps its README).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "reference.md"


# Inputs the command line takes another way, and why.
_NO_FLAG = {
    "mode": "the subcommand (`open`, `sync`, `close`)",
    "token": "the `GITHUB_TOKEN` variable (never an argument)",
    "comment": "none: GitHub reporting is the action's",
    "deployment": "none: GitHub reporting is the action's",
}
_FILE_FLAGS = ("secret-env", "kubeconfig", "secrets-toml")


def _open_flags() -> dict[str, list[str]]:
    """The option strings of `streamlit-preview open`, by the setting they fill (argparse's
    `dest`), so a flag named unlike its input (`--secrets-toml-file`) is found too."""
    sys.path.insert(0, str(ROOT))
    from streamlit_preview.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    return {
        action.dest: list(action.option_strings) for action in commands.choices["open"]._actions
    }


def _flag_for(name: str, flags: dict[str, list[str]]) -> str | None:
    options = flags.get(name.replace("-", "_")) or []
    return f"--{name}" if f"--{name}" in options else (options[0] if options else None)


def render_reference() -> str:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    lines = [
        "# Inputs and outputs",
        "",
        "<!-- Generated from action.yml by scripts/gen_docs.py; do not edit. -->",
        "",
        "The *command line* column says how `streamlit-preview open` takes the same setting:",
        "a flag of the same name has the same default and the same validation. It is read from",
        "the command's own parser, so it cannot drift.",
        "",
        "## Inputs",
        "",
        "| input | default | command line | description |",
        "|---|---|---|---|",
    ]
    flags = _open_flags()
    for name, spec in action["inputs"].items():
        default = str(spec.get("default", "")).replace("|", "\\|")
        description = " ".join(str(spec["description"]).split()).replace("|", "\\|")
        option = _flag_for(name, flags)
        flag = f"`{option}`" if option else _NO_FLAG.get(name, "none")
        if name in _FILE_FLAGS and option:
            flag += " (a file's path)"
        lines.append(f"| `{name}` | {f'`{default}`' if default else ''} | {flag} | {description} |")
    lines += ["", "## Outputs", "", "| output | description |", "|---|---|"]
    for name, spec in action["outputs"].items():
        lines.append(f"| `{name}` | {' '.join(str(spec['description']).split())} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    text = render_reference()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(
                "docs/reference.md is out of date: run python scripts/gen_docs.py", file=sys.stderr
            )
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
