"""What the demo checks on top of the core's request checks (`salsav_core.request`).

The core checks every value of a generation request against one `Limits`; the demo passes its
stricter ones (`DemoSettings.limits`) and adds only what a web form has and the core does not:
the uploaded files (present, not empty, under the upload limit) and the trim controls (an end
time instead of a duration). Refusals raise `DemoInputError`, a `GenerationError`, with a
message that is safe to show a visitor.
"""
from __future__ import annotations

import os

from salsav_core.request import GenerationError, finite_number

from webapp.settings import DemoSettings

UNREADABLE_VIDEO = ("This file is not a readable video (it may be corrupt, or not a video at all). "
                    "Please upload an mp4, webm or mov file.")


class DemoInputError(GenerationError):
    """A request value the demo refuses; the message is shown to the user as is."""


def check_upload(path, settings: DemoSettings, what: str = "video") -> str:
    """The file exists, is a regular file and is within the upload limit."""
    if path is None or path == "":
        raise DemoInputError(f"Please upload a {what}.")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DemoInputError(f"The {what} file could not be found on the server; upload it again.")
    size = os.path.getsize(path)
    if size == 0:
        raise DemoInputError(f"The {what} file is empty.")
    if size > settings.max_file_bytes:
        raise DemoInputError(f"The {what} file is {size / 2**20:.1f} MB; the limit is "
                             f"{settings.max_file_bytes / 2**20:.0f} MB.")
    return path


def check_trim(trim: bool, start, end) -> tuple[float, float | None]:
    """(start, duration) for the core from the trim controls: the whole video when not
    trimming; else start..end, where an end of 0 (or none) means the end of the video and an
    end past the video stops there (the core clips the duration)."""
    if not trim:
        return 0.0, None
    start_s = finite_number(start if start is not None else 0.0, "The start time")
    if end in (None, "", 0, 0.0):
        return start_s, None
    end_s = finite_number(end, "The end time")
    if end_s <= start_s:
        raise DemoInputError(f"The end time ({end_s:g} s) must come after the start time ({start_s:g} s).")
    return start_s, end_s - start_s
