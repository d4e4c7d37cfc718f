"""Add users.email with a default that existing documents receive.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(100), server_default="unknown"))


def downgrade() -> None:
    op.drop_column("users", "email")
