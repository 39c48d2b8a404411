"""Our own videos (SynthFoley, held-out scenes, the demo pattern) are written in process."""
from __future__ import annotations

import numpy as np
import pytest


def test_own_videos_are_written_in_process(tmp_path):
    """write_h264 refuses what H.264 4:2:0 cannot hold, and writes what it is given."""
    from salsav_core.video_io import read_frames
    from salsav_core.video_write import write_h264
    with pytest.raises(ValueError, match="even sizes"):
        write_h264(tmp_path / "odd.mp4", np.zeros((3, 15, 16, 3), np.uint8), 24)
    with pytest.raises(ValueError, match="uint8"):
        write_h264(tmp_path / "f.mp4", np.zeros((3, 16, 16, 3), np.float32), 24)
    frames = np.zeros((12, 32, 48, 3), np.uint8)
    frames[6:] = 200
    back = read_frames(write_h264(tmp_path / "ok.mp4", frames, 24), 24, 32, duration=0.5)
    assert back.shape == (12, 32, 32, 3) and back[:5].mean() < 20 and back[7:].mean() > 180
