"""The one error type of media input and output (video_io, video_mux)."""
from __future__ import annotations


class VideoError(ValueError):
    """A video that cannot be used (message safe to show a user, no traceback)."""
