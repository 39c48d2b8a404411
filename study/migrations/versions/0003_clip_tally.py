"""Issue 21's schema (schema version 3): balance counts that do not grow with the study.

`clip_tally` holds, per clip, the trials (attention checks aside) of participants who completed
the study, are not excluded and are no preview; the index on participant (study_id,
completed_at) finds the participants still going. Existing completed participants are counted
in. No row changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "clip_tally",
        sa.Column("clip_id", sa.Integer, sa.ForeignKey("clip.id", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("done", sa.Integer, nullable=False, server_default=sa.text("0")))
    op.create_index("ix_participant_study_id_completed_at", "participant", ["study_id", "completed_at"])
    conn.execute(sa.text(
        "INSERT INTO clip_tally (clip_id, done) SELECT t.clip_id, count(*) FROM trial t "
        "JOIN participant p ON t.participant_id = p.id WHERE p.completed_at IS NOT NULL "
        "AND p.excluded = :f AND p.is_preview = :f AND t.is_attention = :f GROUP BY t.clip_id"
    ).bindparams(sa.bindparam("f", False, type_=sa.Boolean)))
    conn.execute(sa.text("UPDATE study_schema SET version = 3"))


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE study_schema SET version = 2"))
    op.drop_index("ix_participant_study_id_completed_at", "participant")
    op.drop_table("clip_tally")
