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


def render_reference() -> str:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    lines = [
        "# Inputs and outputs",
        "",
        "<!-- Generated from action.yml by scripts/gen_docs.py; do not edit. -->",
        "",
        "Every input has a command-line flag of the same name (`--namespace`, `--gpu`, ...),",
        "with the same default and the same validation.",
        "",
        "## Inputs",
        "",
        "| input | default | description |",
        "|---|---|---|",
    ]
    for name, spec in action["inputs"].items():
        default = str(spec.get("default", "")).replace("|", "\\|")
        description = " ".join(str(spec["description"]).split()).replace("|", "\\|")
        lines.append(f"| `{name}` | {f'`{default}`' if default else ''} | {description} |")
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
