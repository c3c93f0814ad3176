"""The versioned store: created at head, older databases upgraded with their records, others refused.

Each test runs on SQLite and on the session's throwaway PostgreSQL server (conftest.postgres_url).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, inspect, select, text

from powderlab.autonomy import migrate, schema
from powderlab.autonomy import store as tables
from powderlab.autonomy.store import Store, make_engine
from tests.autonomy import old_store


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (a fresh file, or a fresh database on the test server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'campaign.db'}"
        return
    server = request.getfixturevalue("postgres_url")
    name = "m_" + uuid.uuid4().hex[:12]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield server.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def revision_of(url: str) -> tuple[str, ...]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()


def old_database(url: str) -> None:
    """A database as the previous PowderLab left it: its create_all, the fixture's rows, no alembic_version."""
    old = old_store.old_schema()
    source = create_engine(f"sqlite:///{old_store.FIXTURE}")
    engine = make_engine(url)
    try:
        old.create_all(engine)
        with source.connect() as src, engine.begin() as dst:
            for table in old.sorted_tables:
                rows = [dict(r) for r in src.execute(select(table)).mappings()]
                if rows:
                    dst.execute(insert(table), rows)
            if engine.dialect.name == "postgresql":  # copied ids: move the sequences past them
                for table in ("patterns", "analyses", "events"):
                    dst.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
    finally:
        source.dispose()
        engine.dispose()


def assert_campaign_intact(store: Store) -> None:
    assert store.load(old_store.CAMPAIGN) == old_store.expected_records()
    campaign = store.campaign(old_store.CAMPAIGN)
    assert campaign is not None and campaign["config"] == {"targets": 2} and campaign["seed"] == 7
    pattern = store.pattern("s-1")
    assert pattern is not None
    assert pattern.two_theta_deg.tolist() == old_store.pattern().two_theta_deg.tolist()
    assert pattern.intensity.tolist() == old_store.pattern().intensity.tolist()
    assert [a["target_yield"] for a in store.rows(tables.analyses, old_store.CAMPAIGN)] == [0.92]
    assert [e["kind"] for e in store.rows(tables.events, old_store.CAMPAIGN)] == ["start", "claim"]
    assert store.last_sim_time(old_store.CAMPAIGN) == 5000.0


def test_the_baseline_revision_is_the_old_schema(empty_url: str) -> None:
    # what the old create_all made, compared by Alembic with revision 0001: no difference
    engine = make_engine(empty_url)
    try:
        old_store.old_schema().create_all(engine)
        with engine.connect() as conn:
            assert migrate.differences(conn, migrate.baseline_schema()) == []
            assert migrate.differences(conn, schema.metadata) != []  # and head is not 0001
    finally:
        engine.dispose()


def test_a_new_database_is_created_at_head_matching_the_declared_tables(empty_url: str) -> None:
    store = Store(empty_url)
    try:
        assert revision_of(empty_url) == (migrate.head(),)
        assert migrate.revisions()[0] == migrate.BASELINE and len(migrate.revisions()) >= 2
        with store.engine.connect() as conn:  # autogenerate finds nothing to do: head == schema.py
            assert migrate.differences(conn, schema.metadata) == []
        old_store.fill(store)
        assert_campaign_intact(store)
    finally:
        store.close()
    Store(empty_url).close()  # opening again at head changes nothing
    assert revision_of(empty_url) == (migrate.head(),)


def test_a_database_of_the_previous_powderlab_is_upgraded_and_its_records_survive(empty_url: str) -> None:
    old_database(empty_url)
    assert revision_of(empty_url) == ()
    store = Store(empty_url)
    try:
        assert revision_of(empty_url) == (migrate.head(),)
        with store.engine.connect() as conn:
            assert migrate.differences(conn, schema.metadata) == []
            indexes = {i["name"] for i in inspect(conn).get_indexes("events")}
        assert "ix_events_campaign_id_sim_time" in indexes  # revision 0002 ran
        assert_campaign_intact(store)
        # and the campaign goes on: new records after the upgrade
        records = old_store.expected_records()
        store.load(old_store.CAMPAIGN)
        op = records["operations"][2]
        op.id, op.state = "d" * 32, "intended"
        store.intend(old_store.CAMPAIGN, op)
        assert [r["seq"] for r in store.rows(tables.operations, old_store.CAMPAIGN)] == [1, 2, 3, 4]
    finally:
        store.close()


def test_the_checked_in_old_sqlite_file_opens_with_its_records(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    shutil.copy(old_store.FIXTURE, path)
    store = Store(path)
    try:
        assert revision_of(store.url) == (migrate.head(),)
        assert_campaign_intact(store)
    finally:
        store.close()


def test_a_database_at_an_older_revision_is_upgraded(empty_url: str) -> None:
    store = Store(empty_url)
    old_store.fill(store)
    with store.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), migrate.BASELINE)
    store.close()
    assert revision_of(empty_url) == (migrate.BASELINE,)
    store = Store(empty_url)
    try:
        assert revision_of(empty_url) == (migrate.head(),)
        assert_campaign_intact(store)
    finally:
        store.close()


def test_a_database_from_a_newer_powderlab_is_refused(empty_url: str) -> None:
    Store(empty_url).close()
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(migrate.StoreVersionError) as refused:
        Store(empty_url)
    message = str(refused.value)
    name = make_engine(empty_url).url.render_as_string(hide_password=True)
    assert name in message and "0999" in message and "newer PowderLab" in message
    assert ", ".join(migrate.revisions()) in message and f"head {migrate.head()}" in message
    assert revision_of(empty_url) == ("0999",)  # untouched


def test_tables_that_match_no_revision_are_refused(empty_url: str) -> None:
    old = old_store.old_schema()
    old.tables["samples"].append_column(Column("colour", String(20)))
    engine = make_engine(empty_url)
    old.create_all(engine)
    engine.dispose()
    with pytest.raises(migrate.StoreVersionError, match=r"do not match revision 0001.*colour"):
        Store(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            assert "alembic_version" not in inspect(conn).get_table_names()  # nothing stamped
    finally:
        engine.dispose()


def test_other_tables_in_the_database_do_not_matter(empty_url: str) -> None:
    engine = make_engine(empty_url)
    other = MetaData()
    Table("unrelated", other, Column("id", Integer, primary_key=True))
    other.create_all(engine)
    engine.dispose()
    Store(empty_url).close()
    assert revision_of(empty_url) == (migrate.head(),)


def test_a_record_field_without_a_column_fails_at_declaration() -> None:
    @dataclass
    class Shelf:
        id: str
        colour: str = ""

    shelves = Table("shelves", MetaData(), Column("id", String(20), primary_key=True), Column("place", String(20)))
    with pytest.raises(RuntimeError, match=r"shelves and Shelf disagree.*\['colour'\].*\['place'\]"):
        schema.RecordTable(shelves, Shelf)
    mapping = schema.RecordTable(shelves, Shelf, renamed={"colour": "place"})
    assert mapping.row(Shelf("a", "red")) == {"id": "a", "place": "red"}
    assert mapping.record_from({"id": "a", "place": None}) == Shelf("a", "")  # NULL reads as the default


def test_a_new_sqlite_store_appears_whole_or_not_at_all(tmp_path, monkeypatch) -> None:
    """A kill while the tables are being created (SQLite commits DDL as it runs) must not leave a
    half-made database that the next start refuses: the file appears only once it is at head."""
    from sqlalchemy import text

    from powderlab.autonomy import migrate
    from powderlab.autonomy.store import Store

    path = tmp_path / "campaign.sqlite"
    real_open = migrate.open_at_head

    def dies_half_way(engine, name):  # the first table is made, then the process "dies"
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE campaigns (id VARCHAR PRIMARY KEY)"))
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(migrate, "open_at_head", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        Store(path)
    assert not path.exists()
    monkeypatch.setattr(migrate, "open_at_head", real_open)
    store = Store(path)  # the next start creates it whole
    try:
        assert store.campaign("none") is None
    finally:
        store.close()
    assert path.exists() and not list(tmp_path.glob(".*.creating"))
