"""Media checks shared by the webapp tests (ffmpeg stream listing, audio decode)."""
import re
import subprocess

import numpy as np


def probe_streams(path: str) -> tuple[int, int, float]:
    """(video streams, audio streams, duration s) from ffmpeg's stream listing."""
    import imageio_ffmpeg
    err = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path],
                         capture_output=True, text=True).stderr
    n_v = len(re.findall(r"Stream #\S+.*: Video:", err))
    n_a = len(re.findall(r"Stream #\S+.*: Audio:", err))
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err).groups()
    return n_v, n_a, int(h) * 3600 + int(m) * 60 + float(s)


def decode_audio(path: str) -> np.ndarray:
    """Mono float32 samples at 44.1 kHz of a media file's first audio stream."""
    import imageio_ffmpeg
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", path, "-map", "0:a:0",
                          "-ac", "1", "-ar", "44100", "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32)
