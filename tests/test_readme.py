"""The README's command table is complete against the CLI: every command and sub-command has a row."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from powderlab.cli.main import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-commands of parser by name (aliases included), or {} if it has none."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_rows() -> list[str]:
    """The first cells of the table under '## The `powderlab` command', markup removed."""
    section = README.read_text().split("## The `powderlab` command", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = re.match(r"\|\s*`(powderlab [^`]*)`\s*\|", line)
        if match:
            rows.append(match.group(1).replace("\\|", "|"))
    return rows


def test_the_table_is_found() -> None:
    rows = command_rows()
    assert len(rows) >= 10, rows
    assert all(row.startswith("powderlab ") for row in rows)


def test_every_command_has_a_row() -> None:
    rows = command_rows()
    missing = []
    for name, parser in subcommands(build_parser()).items():
        mine = [row for row in rows if row.split()[1] == name]
        if not mine:
            missing.append(f"powderlab {name}")
            continue
        # sub-commands (xrd simulate, plan screen, certs create) are named in a row of their command
        words = {word for row in mine for word in re.split(r"[\s|\[\]]+", row)}
        missing += [f"powderlab {name} {sub}" for sub in subcommands(parser) if sub not in words]
    assert not missing, f"not in the command table of README.md: {', '.join(missing)}"
