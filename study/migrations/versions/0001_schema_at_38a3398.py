"""The study schema as main 38a3398 made it (schema version 1, before Alembic).

Revision ID: 0001
Revises:
Create Date: 2026-11-29

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _fk(col: str, target: str) -> sa.Column:
    return sa.Column(col, sa.Integer, sa.ForeignKey(target, ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    schema = op.create_table("study_schema", sa.Column("id", sa.Integer, primary_key=True),
                             sa.Column("version", sa.Integer, nullable=False))
    op.create_table(
        "study",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False))
    op.create_table(
        "system",
        sa.Column("id", sa.Integer, primary_key=True), _fk("study_id", "study.id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.UniqueConstraint("study_id", "name"))
    op.create_index("ix_system_study_id", "system", ["study_id"])
    op.create_table(
        "clip",
        sa.Column("id", sa.Integer, primary_key=True), _fk("study_id", "study.id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("video_path", sa.Text, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.UniqueConstraint("study_id", "name"))
    op.create_index("ix_clip_study_id", "clip", ["study_id"])
    op.create_table(
        "track",
        sa.Column("id", sa.Integer, primary_key=True), _fk("clip_id", "clip.id"),
        sa.Column("system_id", sa.Integer, sa.ForeignKey("system.id", ondelete="CASCADE"), nullable=True),
        sa.Column("audio_path", sa.Text, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("check_kind", sa.String(20), nullable=True))
    op.create_index("ix_track_clip_id", "track", ["clip_id"])
    op.create_table(
        "participant",
        sa.Column("id", sa.Integer, primary_key=True), _fk("study_id", "study.id"),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("external_study_id", sa.String(200), nullable=True),
        sa.Column("external_session_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("consent_at", sa.DateTime, nullable=True),
        sa.Column("instructions_done_at", sa.DateTime, nullable=True),
        sa.Column("completed_at", sa.DateTime, nullable=True),
        sa.Column("completion_code", sa.String(64), nullable=True),
        sa.Column("excluded", sa.Boolean, nullable=False),
        sa.Column("exclusion_reason", sa.Text, nullable=True))
    op.create_index("ix_participant_study_id", "participant", ["study_id"])
    op.create_table(
        "trial",
        sa.Column("id", sa.Integer, primary_key=True), _fk("participant_id", "participant.id"),
        _fk("clip_id", "clip.id"),
        sa.Column("order", sa.Integer, nullable=False),
        sa.Column("is_attention", sa.Boolean, nullable=False),
        sa.Column("video_token", sa.String(64), nullable=False, unique=True),
        sa.Column("completed_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("participant_id", "order"))
    op.create_index("ix_trial_participant_id", "trial", ["participant_id"])
    op.create_index("ix_trial_clip_id", "trial", ["clip_id"])
    op.create_table(
        "trial_item",
        sa.Column("id", sa.Integer, primary_key=True), _fk("trial_id", "trial.id"),
        sa.Column("label", sa.String(4), nullable=False),
        _fk("track_id", "track.id"),
        sa.Column("media_token", sa.String(64), nullable=False, unique=True),
        sa.UniqueConstraint("trial_id", "label"))
    op.create_index("ix_trial_item_trial_id", "trial_item", ["trial_id"])
    op.create_table(
        "rating",
        sa.Column("id", sa.Integer, primary_key=True), _fk("trial_id", "trial.id"),
        sa.Column("label", sa.String(4), nullable=False),
        sa.Column("axis", sa.String(40), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("rated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("trial_id", "label", "axis"))
    op.create_index("ix_rating_trial_id", "rating", ["trial_id"])
    op.bulk_insert(schema, [{"id": 1, "version": 1}])


def downgrade() -> None:
    for table in ("rating", "trial_item", "trial", "participant", "track", "clip", "system", "study",
                  "study_schema"):
        op.drop_table(table)
