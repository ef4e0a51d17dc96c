"""Until when a subscription's billed usage may still change (`usage_open_until`).

Revision ID: 0015
Revises: 0014

Subscriptions written before this revision read NULL: their earlier usage is
re-checked while they keep a metered item, as before; a canceled one gets no
trailing invoice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accrue.platform.db.tables import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("usage_open_until", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("usage_open_until")
