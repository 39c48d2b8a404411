"""Request models of the study's JSON API (pydantic): types, sizes and ranges are checked before
any handler runs; a failure is a 422 naming the field, never echoing the value."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Label = Annotated[str, StringConstraints(pattern=r"^[A-H]$")]
AxisKey = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
Score = Annotated[int, Field(strict=True, ge=-100, le=100)]   # the study's own scale is checked after
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$")]
Token = Annotated[str, StringConstraints(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
PublicId = Annotated[str, StringConstraints(min_length=8, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
MAX_LABELS, MAX_AXES = 8, 16


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatingsBody(_Strict):
    """{ratings: {label: {axis: score}}, complete: bool}: save scores, or complete the trial."""
    ratings: dict[Label, Annotated[dict[AxisKey, Score], Field(max_length=MAX_AXES)]] = Field(
        default_factory=dict, max_length=MAX_LABELS)
    complete: bool = True


class ListenBody(_Strict):
    """A play report: `label` played `seconds` since the previous report (see study.listening)."""
    kind: Literal["play", "beat", "end"]
    label: Label
    seconds: float = Field(default=0.0, ge=0.0, le=60.0, allow_inf_nan=False)
    started: bool = False    # the first report of a play segment (counted as a play)


class NewParticipant(_Strict):
    """A participant made through the API; `consent: true` says consent was given."""
    consent: Literal[True]
    study: Annotated[str, StringConstraints(max_length=200)] | Annotated[int, Field(ge=1, le=2**31)] | None = None
    external_id: ExternalId | None = None
    external_study_id: ExternalId | None = None
    external_session_id: ExternalId | None = None
