"""members.history_version: the read cache's keys carry it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("members", sa.Column("history_version", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("members", "history_version")
