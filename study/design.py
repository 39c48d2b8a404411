"""Study design: balanced clip assignment and seeded randomization (pure functions).

Everything a participant sees follows from their stored seed and the clip counts at the
moment they joined, and the result is stored, so a session can be replayed and audited.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
import string

LABELS = tuple(string.ascii_uppercase[:8])  # A, B, C, ...


def new_seed() -> int:
    return secrets.randbelow(2**31 - 1)


def new_token(nbytes: int = 24) -> str:
    """An opaque URL-safe token (participant or media)."""
    return secrets.token_urlsafe(nbytes)


@dataclasses.dataclass(frozen=True)
class TrialPlan:
    clip_id: int
    mapping: dict[str, int]  # label -> track id
    is_attention: bool = False


@dataclasses.dataclass(frozen=True)
class CheckOption:
    clip_id: int
    track_id: int             # the check track
    replaces_system_id: int   # whose regular track it replaces in the trial


def choose_clips(counts: dict[int, int], n: int, rng: random.Random) -> list[int]:
    """The `n` least-shown clips; ties broken by the participant's rng."""
    if n > len(counts):
        raise ValueError(f"cannot choose {n} clips out of {len(counts)}")
    keyed = sorted(counts, key=lambda c: (counts[c], rng.random()))
    return keyed[:n]


def assign_labels(track_ids: list[int], rng: random.Random) -> dict[str, int]:
    """A random label -> track mapping (labels A, B, C, ... in order)."""
    ids = list(track_ids)
    rng.shuffle(ids)
    return dict(zip(LABELS, ids))


def plan_trials(seed: int, counts: dict[int, int], n_trials: int,
                tracks: dict[int, dict[int, int]], checks: list[CheckOption] = (),
                n_checks: int = 0) -> list[TrialPlan]:
    """Trials for one participant, in presentation order.

    counts: clip id -> times shown so far (balanced assignment picks the least shown);
    tracks: clip id -> {system id: track id}; checks: the attention-check options, of which
    `n_checks` extra trials are drawn and inserted at random positions (never first).
    """
    rng = random.Random(seed)
    clips = choose_clips(counts, n_trials, rng)
    rng.shuffle(clips)
    plans = [TrialPlan(c, assign_labels(sorted(tracks[c].values()), rng)) for c in clips]
    for ch in rng.sample(list(checks), n_checks) if n_checks else []:
        ids = {**tracks[ch.clip_id], ch.replaces_system_id: ch.track_id}
        plan = TrialPlan(ch.clip_id, assign_labels(sorted(ids.values()), rng), is_attention=True)
        plans.insert(rng.randint(1, len(plans)), plan)
    return plans
