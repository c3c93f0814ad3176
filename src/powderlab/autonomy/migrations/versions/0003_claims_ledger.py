"""The claims ledger: claims (one row per claim version) and claim_reviews (a person's decisions).

Every analysed sample of a target becomes a claim with its evidence (autonomy/claims.py); a
re-analysis adds a version, a review adds a row; nothing is updated in place.
See docs/decisions/0098-claims-ledger.md.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(120), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("claim_key", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("target_id", sa.String(200), nullable=False),
        sa.Column("target", sa.String(120), nullable=False),
        sa.Column("experiment_id", sa.String(200), nullable=False),
        sa.Column("samples", sa.JSON, nullable=False),
        sa.Column("verdict", sa.String(40), nullable=False),
        sa.Column("novelty", sa.Text, nullable=False),
        sa.Column("analysis_version", sa.String(200), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("curves", sa.JSON),
        sa.Column("created_s", sa.Float),
        sa.Column("created_wall", sa.Float),
        sa.UniqueConstraint("campaign_id", "claim_key", "version"),
    )
    op.create_index("ix_claims_campaign_id", "claims", ["campaign_id"])
    op.create_table(
        "claim_reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("claim_id", sa.Integer, sa.ForeignKey("claims.id"), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("wall_time", sa.Float, nullable=False),
    )
    op.create_index("ix_claim_reviews_claim_id", "claim_reviews", ["claim_id"])


def downgrade() -> None:
    op.drop_index("ix_claim_reviews_claim_id", table_name="claim_reviews")
    op.drop_table("claim_reviews")
    op.drop_index("ix_claims_campaign_id", table_name="claims")
    op.drop_table("claims")
