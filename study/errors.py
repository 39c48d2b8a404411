"""The study's errors. Each message is short, safe to show a participant, and never holds input
that came with a request; `status` is the HTTP status the web layer answers with."""

from __future__ import annotations


class StudyError(ValueError):
    """Base class; the message is safe to show a participant."""
    status = 400


class UnknownStudy(StudyError):
    status = 404


class UnknownParticipant(StudyError):
    status = 404


class TrialNotFound(StudyError):
    """No such trial for this participant (also when it belongs to someone else)."""
    status = 404


class InvalidRatings(StudyError):
    status = 422


class TrialClosed(StudyError):
    """The trial is completed (scores are then immutable) or is not the participant's next one."""
    status = 409


class NotListened(StudyError):
    """A track was not fetched and played for the study's minimum before it was rated."""
    status = 409


class StudyClosed(StudyError):
    """The study takes no new participants (closed by the admin, or its cap is reached)."""
    status = 403


class ConsentRequired(StudyError):
    status = 403


class BodyTooLarge(StudyError):
    status = 413


class BadRequest(StudyError):
    status = 400
