"""archived photos, seed 004 job fields, engine options

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:40:00

Reserved for issue 13; empty until that work fills it in (migrations stay one linear chain).
"""

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
