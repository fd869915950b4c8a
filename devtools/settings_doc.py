"""The README's settings tables, generated from the one definition of each setting.

    python -m devtools.settings_doc          # print the tables
    python -m devtools.settings_doc --write  # rewrite them in README.md

A test fails when README.md differs from what this writes (tests/unit/test_settings_doc.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from avi2mp4.settings import DeadFrameThresholds, Entry, PipelineConfig, entries
from handler.settings import FunctionSettings

README = Path(__file__).resolve().parent.parent / "README.md"


def _default(entry: Entry) -> str:
    value = entry.default
    if isinstance(value, bool):
        return "true" if value else "false"
    if entry.spec.required:
        return "(required)"
    return f"`{value}`" if value != "" else "(empty)"


def cli_table() -> str:
    rows = ["| option | default | meaning |", "|---|---|---|"]
    for entry in entries(PipelineConfig):
        flag = entry.spec.flag
        if flag is None:
            continue
        if entry.type_name == "bool":
            rows.append(f"| `{flag}` | off | do not {entry.spec.doc} |")
        else:
            rows.append(f"| `{flag}` | {_default(entry)} | {entry.spec.doc} ({entry.spec.rule()}) |")
    names = ", ".join(f"`{e.name}`" for e in entries(DeadFrameThresholds))
    rows.append(f"| `--dead-threshold NAME=VALUE` | see Dead frames | tune the dead-frame filter: {names} |")
    return "\n".join(rows)


def env_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for cls in (FunctionSettings, PipelineConfig, DeadFrameThresholds):
        for entry in entries(cls):
            rule = f" ({entry.spec.rule()})" if entry.spec.rule() else ""
            rows.append(f"| `{entry.spec.env}` | {_default(entry)} | {entry.spec.doc}{rule} |")
    rows.append("| `POWERTOOLS_SERVICE_NAME`, `POWERTOOLS_LOG_LEVEL` | avi2mp4, INFO | structured JSON logs "
                "(Powertools' own variables) |")  # fmt: skip
    return "\n".join(rows)


TABLES = {"cli": cli_table, "env": env_table}


def render(readme: str) -> str:
    """``readme`` with each ``<!-- settings:NAME -->`` ... ``<!-- /settings:NAME -->`` block regenerated."""
    for name, make in TABLES.items():
        pattern = re.compile(rf"(<!-- settings:{name} -->\n).*?(\n<!-- /settings:{name} -->)", re.DOTALL)
        if not pattern.search(readme):
            raise ValueError(f"README.md has no <!-- settings:{name} --> block")
        readme = pattern.sub(lambda m, make=make: m[1] + make() + m[2], readme)  # type: ignore[misc]
    return readme


def main() -> int:
    if "--write" in sys.argv[1:]:
        README.write_text(render(README.read_text()))
    else:
        print(cli_table(), env_table(), sep="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
