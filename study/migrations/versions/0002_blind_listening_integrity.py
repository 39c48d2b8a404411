"""Issue 19's schema (schema version 2): listening log, public trial ids, preview, cap and close,
normalised media provenance, one participant per PROLIFIC_PID.

Existing rows are kept. Trials made before get a random `public_id`. A PROLIFIC_PID that
already had several participants in one study (the old code allowed it) keeps its first
participant; later ones get `<PID>~dup<participant id>` as external_id, so the new
one-participant-per-PID constraint holds and no row is lost.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

"""
import secrets
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "listen_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trial_id", sa.Integer, sa.ForeignKey("trial.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.String(4), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.Column("at", sa.DateTime, nullable=False))
    op.create_index("ix_listen_event_trial_id", "listen_event", ["trial_id"])
    with op.batch_alter_table("study") as b:
        b.add_column(sa.Column("closed_at", sa.DateTime, nullable=True))
        b.add_column(sa.Column("max_participants", sa.Integer, nullable=True))
    with op.batch_alter_table("clip") as b:
        b.add_column(sa.Column("source_path", sa.Text, nullable=True))
    with op.batch_alter_table("track") as b:
        b.add_column(sa.Column("source_path", sa.Text, nullable=True))
        b.add_column(sa.Column("media_info", sa.JSON, nullable=True))

    # one participant per (study, PROLIFIC_PID): rename later duplicates, keep every row
    dups = conn.execute(sa.text(
        "SELECT p.id, p.external_id FROM participant p WHERE p.external_id IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM participant q WHERE q.study_id = p.study_id AND q.external_id = p.external_id "
        "AND q.id < p.id)")).all()
    for pid, ext in dups:
        conn.execute(sa.text("UPDATE participant SET external_id = :e WHERE id = :i"),
                     {"e": f"{ext[:180]}~dup{pid}", "i": pid})
    with op.batch_alter_table("participant") as b:
        b.add_column(sa.Column("is_preview", sa.Boolean, nullable=False, server_default=sa.false()))
        b.add_column(sa.Column("last_active_at", sa.DateTime, nullable=True))
        b.create_unique_constraint("participant_study_id_external_id_key", ["study_id", "external_id"])

    with op.batch_alter_table("trial") as b:
        b.add_column(sa.Column("public_id", sa.String(40), nullable=True))
        b.add_column(sa.Column("started_at", sa.DateTime, nullable=True))
        b.add_column(sa.Column("last_beat_at", sa.DateTime, nullable=True))
    for (tid,) in conn.execute(sa.text("SELECT id FROM trial")).all():
        conn.execute(sa.text("UPDATE trial SET public_id = :p WHERE id = :i"),
                     {"p": secrets.token_urlsafe(18), "i": tid})
    with op.batch_alter_table("trial") as b:
        b.alter_column("public_id", existing_type=sa.String(40), nullable=False)
        b.create_unique_constraint("trial_public_id_key", ["public_id"])

    with op.batch_alter_table("trial_item") as b:
        b.add_column(sa.Column("fetched_at", sa.DateTime, nullable=True))
        b.add_column(sa.Column("listened_s", sa.Float, nullable=False, server_default=sa.text("0")))
        b.add_column(sa.Column("plays", sa.Integer, nullable=False, server_default=sa.text("0")))

    conn.execute(sa.text("UPDATE study_schema SET version = 2"))


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE study_schema SET version = 1"))
    with op.batch_alter_table("trial_item") as b:
        for col in ("plays", "listened_s", "fetched_at"):
            b.drop_column(col)
    with op.batch_alter_table("trial") as b:
        b.drop_constraint("trial_public_id_key", type_="unique")
        for col in ("last_beat_at", "started_at", "public_id"):
            b.drop_column(col)
    with op.batch_alter_table("participant") as b:
        b.drop_constraint("participant_study_id_external_id_key", type_="unique")
        for col in ("last_active_at", "is_preview"):
            b.drop_column(col)
    with op.batch_alter_table("track") as b:
        for col in ("media_info", "source_path"):
            b.drop_column(col)
    with op.batch_alter_table("clip") as b:
        b.drop_column("source_path")
    with op.batch_alter_table("study") as b:
        for col in ("max_participants", "closed_at"):
            b.drop_column(col)
    op.drop_index("ix_listen_event_trial_id", "listen_event")
    op.drop_table("listen_event")
