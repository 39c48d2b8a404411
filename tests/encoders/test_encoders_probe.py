"""The event probe that compares sync models by how well their features locate onsets."""
import numpy as np
import pytest

from salsav_core.encoders.evaluation import average_precision, event_frames, event_probe


def test_average_precision_hand_computed():
    # ranked: pos, neg, pos, neg -> precisions at the positives 1/1 and 2/3
    assert average_precision([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0.1, 0.2], [1, 1]) == 1.0
    assert np.isnan(average_precision([0.1, 0.2], [0, 0]))


def test_event_frames_marks_one_frame_either_side():
    y = event_frames([0.0, 1.0, 10.0], 30, fps=24)
    assert np.flatnonzero(y).tolist() == [0, 1, 23, 24, 25]    # 10 s is past the end


def _clips(rng, informative: bool, n=24, t=96):
    feats, onsets = [], []
    for _ in range(n):
        times = np.sort(rng.uniform(0.2, t / 24 - 0.2, size=4))
        f = rng.standard_normal((t, 6))
        if informative:                      # one channel pulses at each onset frame
            f[:, 0] += 3.0 * event_frames(times, t, tol_frames=0)
        feats.append(f)
        onsets.append(times)
    return feats, onsets


def test_event_probe_separates_informative_from_random_features():
    good = event_probe(*_clips(np.random.default_rng(0), True))
    bad = event_probe(*_clips(np.random.default_rng(0), False))
    assert good["test_clips"] == 6 and good["train_clips"] == 18
    assert bad["ap"] < bad["chance_ap"] + 0.1
    assert good["ap"] > 0.5 > bad["ap"] and good["ap"] > 4 * good["chance_ap"]
