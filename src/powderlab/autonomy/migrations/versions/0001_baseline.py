"""Baseline: the campaign store exactly as PowderLab created it before migrations (metadata.create_all).

A database without an alembic_version table whose tables match `schema()` is a database of the
previous PowderLab: migrate.open_at_head stamps it 0001 and upgrades it. This copy is frozen
history: never edit it; change the schema with a new revision.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def schema() -> MetaData:
    """The tables of revision 0001 (the pre-migration store), as their own MetaData."""
    metadata = MetaData()

    Table(
        "campaigns",
        metadata,
        Column("id", String(120), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("seed", Integer, nullable=False, default=0),
        Column("config", JSON, nullable=False, default=dict),
        Column("status", String(20), nullable=False, default="running"),
        Column("sim_start", Float),
        Column("sim_end", Float),
        Column("wall_start", Float),
        Column("wall_end", Float),
    )
    Table(
        "targets",
        metadata,
        Column("id", String(200), primary_key=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("seq", Integer, nullable=False),
        Column("formula", String(120), nullable=False),
        Column("spec", JSON, nullable=False),
        Column("status", String(20), nullable=False),
        Column("made_by", String(200), nullable=False, default=""),
        UniqueConstraint("campaign_id", "formula"),
    )
    Table(
        "experiments",
        metadata,
        Column("id", String(200), primary_key=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("target_id", String(200), ForeignKey("targets.id"), nullable=False),
        Column("attempt", Integer, nullable=False),
        Column("recipe", JSON, nullable=False),
        Column("reason", Text, nullable=False, default=""),
        Column("status", String(20), nullable=False),
        Column("target_yield", Float),
        Column("failure", Text, nullable=False, default=""),
        Column("created_s", Float),
        Column("finished_s", Float),
        UniqueConstraint("target_id", "attempt"),  # an experiment can never be recorded twice
    )
    Table(
        "samples",
        metadata,
        Column("id", String(200), primary_key=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("experiment_id", String(200), ForeignKey("experiments.id"), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("labware_id", String(120), nullable=False, default=""),
        Column("status", String(20), nullable=False),
        Column("location", String(200), nullable=False, default=""),
        Column("batch_id", String(200), nullable=False, default=""),
        Column("retries", Integer, nullable=False, default=0),
        Column("not_before", Float, nullable=False, default=0.0),
        Column("failure", Text, nullable=False, default=""),
        Column("dosed_mg", JSON, nullable=False, default=dict),
        Column("created_s", Float),
        Column("finished_s", Float),
        Column("closed", Boolean, nullable=False, default=False),
        Column("analysed", Boolean, nullable=False, default=False),
    )
    Table(
        "batches",
        metadata,
        Column("id", String(200), primary_key=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("profile", JSON, nullable=False),
        Column("capacity", Integer, nullable=False),
        Column("state", String(20), nullable=False),
        Column("furnace", String(120), nullable=False, default=""),
        Column("closed", Boolean, nullable=False, default=False),
        Column("created_s", Float),
        Column("last_load_s", Float),
        Column("heat_started_s", Float),
        Column("heat_ended_s", Float),
        Column("retries", Integer, nullable=False, default=0),
        Column("not_before", Float, nullable=False, default=0.0),
    )
    Table(
        "operations",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("seq", Integer, nullable=False),
        Column("station", String(120), nullable=False),
        Column("action", String(60), nullable=False),
        Column("purpose", String(60), nullable=False),
        Column("goal", JSON, nullable=False),
        Column("sample_id", String(200), nullable=False, default=""),
        Column("batch_id", String(200), nullable=False, default=""),
        Column("resources", JSON, nullable=False, default=list),
        Column("estimate_s", Float, nullable=False, default=0.0),
        Column("state", String(20), nullable=False),
        Column("intended_s", Float),
        Column("started_s", Float),
        Column("ended_s", Float),
        Column("intended_wall", Float),
        Column("ended_wall", Float),
        Column("error_code", Integer),
        Column("error_msg", Text, nullable=False, default=""),
        Column("result", JSON, nullable=False, default=dict),
    )
    Table(
        "patterns",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("sample_id", String(200), nullable=False, index=True),
        Column("op_id", String(64), nullable=False),
        Column("holder_id", String(120), nullable=False, default=""),
        Column("instrument", String(120), nullable=False, default=""),
        Column("wavelength_angstrom", Float, nullable=False),
        Column("two_theta", LargeBinary, nullable=False),  # float64 little-endian
        Column("intensity", LargeBinary, nullable=False),
        Column("created_s", Float),
        UniqueConstraint("op_id"),
    )
    Table(
        "analyses",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("sample_id", String(200), nullable=False),
        Column("experiment_id", String(200), nullable=False),
        Column("analyzer", String(200), nullable=False),
        Column("target_yield", Float, nullable=False),
        Column("result", JSON, nullable=False),
        Column("curves", JSON),
        Column("created_s", Float),
        UniqueConstraint("sample_id"),  # one analysis per sample
    )
    Table(
        "events",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("campaign_id", String(120), nullable=False, index=True),
        Column("sim_time", Float),
        Column("wall_time", Float),
        Column("kind", String(40), nullable=False),
        Column("sample_id", String(200), nullable=False, default=""),
        Column("op_id", String(64), nullable=False, default=""),
        Column("message", Text, nullable=False, default=""),
        Column("data", JSON, nullable=False, default=dict),
    )

    return metadata


def upgrade() -> None:
    schema().create_all(op.get_bind())


def downgrade() -> None:
    schema().drop_all(op.get_bind())
