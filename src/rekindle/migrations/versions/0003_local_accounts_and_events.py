"""local accounts (users.password_hash) and live events (events, event_tickets)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rekindle.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch_op.create_index(
            "ix_users_local_email",
            ["email"],
            unique=True,
            sqlite_where=sa.text("password_hash IS NOT NULL"),
            postgresql_where=sa.text("password_hash IS NOT NULL"),
        )
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_events_user_id_id", ["user_id", "id"], unique=False)
    op.create_table(
        "event_tickets",
        sa.Column("ticket_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("expires_at", rekindle.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_sha256", name=op.f("pk_event_tickets")),
    )
    with op.batch_alter_table("event_tickets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_tickets_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("event_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_tickets_expires_at"))
    op.drop_table("event_tickets")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_user_id_id")
        batch_op.drop_index(batch_op.f("ix_events_created_at"))
    op.drop_table("events")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_users_local_email",
            sqlite_where=sa.text("password_hash IS NOT NULL"),
            postgresql_where=sa.text("password_hash IS NOT NULL"),
        )
        batch_op.drop_column("password_hash")
