"""Index events by (campaign_id, sim_time): a restart reads the campaign's latest event time.

Store.last_sim_time runs max(sim_time) over one campaign's events, the largest table; the index
answers it without scanning every event of the campaign.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_campaign_id_sim_time", "events", ["campaign_id", "sim_time"])


def downgrade() -> None:
    op.drop_index("ix_events_campaign_id_sim_time", table_name="events")
