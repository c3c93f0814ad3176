"""Opening the campaign store at the schema this PowderLab declares, through Alembic, run in code.

A database is one of:
- new (none of the store's tables): created at the head revision;
- at a revision this PowderLab knows: upgraded to head (nothing to do when already there);
- made by PowderLab before migrations (the tables, no alembic_version): recognised when its
  tables match revision 0001, stamped 0001, then upgraded;
- anything else (a revision from a newer PowderLab, tables that match no revision): refused with
  a StoreVersionError naming the database, what it holds and what this PowderLab supports.
It is never read as something it is not. See docs/decisions/0083-versioned-store.md.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from powderlab.core.errors import PowderLabError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema PowderLab created before it had migrations


class StoreVersionError(PowderLabError):
    """A database whose schema this PowderLab cannot use: from a newer PowderLab, or not a store."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config built in code (no alembic.ini): the packaged migrations, and a connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    """The packaged revisions (read once per process)."""
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The revision this PowderLab's schema is at."""
    current = scripts().get_current_head()
    assert current is not None, f"no revisions in {MIGRATIONS / 'versions'}"
    return current


def revisions() -> list[str]:
    """Every revision this PowderLab knows, oldest first."""
    return [script.revision for script in reversed(list(scripts().walk_revisions()))]


def baseline_schema() -> MetaData:
    """The tables of revision 0001 (what `metadata.create_all` made before migrations)."""
    module: Any = scripts().get_revision(BASELINE).module
    return module.schema()


def _supported() -> str:
    known = revisions()
    return f"this PowderLab supports revisions {', '.join(known)} (head {head()})"


def differences(connection: Connection, expected: MetaData) -> list[Any]:
    """What Alembic's autogenerate finds between the database and `expected` (its tables only)."""

    def ours(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "table" or name in expected.tables

    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": ours})
    return compare_metadata(context, expected)


def _open(connection: Connection, name: str) -> None:
    context = MigrationContext.configure(connection)
    current = context.get_current_heads()
    if current:
        unknown = [rev for rev in current if rev not in revisions()]
        if unknown:
            raise StoreVersionError(
                f"database {name} is at revision {', '.join(current)}, which this PowderLab does not know "
                f"(written by a newer PowderLab?); {_supported()}. Use the PowderLab that wrote it, or another database"
            )
        if current == (head(),):
            return
        command.upgrade(alembic_config(connection), "head")
        return
    present = set(inspect(connection).get_table_names())
    baseline = baseline_schema()
    if not present & set(baseline.tables):
        command.upgrade(alembic_config(connection), "head")  # a new database
        return
    found = differences(connection, baseline)
    if found:
        shown = "; ".join(str(diff) for diff in found[:5]) + (f"; ... ({len(found)} in all)" if len(found) > 5 else "")
        raise StoreVersionError(
            f"database {name} has campaign tables but no schema revision, and they do not match revision "
            f"{BASELINE} (the store before migrations): {shown}. {_supported()}; refusing to read or change it"
        )
    command.stamp(alembic_config(connection), BASELINE)
    command.upgrade(alembic_config(connection), "head")


def open_at_head(engine: Engine, name: str) -> None:
    """Bring the database to the head revision, or raise StoreVersionError; `name` is for messages.

    Runs in one transaction (all or nothing on PostgreSQL; SQLite commits DDL as it goes). Two
    processes creating the same new database at once: the loser's DDL fails, it looks again.
    """
    for attempt in range(3):
        try:
            with engine.begin() as connection:
                _open(connection, name)
            return
        except (OperationalError, IntegrityError, ProgrammingError, CommandError):
            if attempt == 2:
                raise
            time.sleep(0.2 * (attempt + 1))
