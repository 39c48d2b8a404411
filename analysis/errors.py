"""Exceptions raised by the analysis library: one class per way the ratings can be unusable."""


class RatingsError(ValueError):
    """Base class: the ratings cannot give the requested statistic. The message says why."""


class MissingColumnsError(RatingsError):
    """The ratings table lacks required columns (named in the message)."""


class EmptyRatingsError(RatingsError):
    """There are no ratings at all (an empty database or export)."""


class MissingSystemError(RatingsError):
    """A system (or a system x axis cell) that the study defines has no ratings."""


class TooFewRatersError(RatingsError):
    """The statistic needs more raters than there are (e.g. a CI across raters with one rater)."""


class AllExcludedError(RatingsError):
    """Every rater was excluded, so nothing is left to analyse."""


class ZeroVarianceError(RatingsError):
    """A statistic is undefined because scores do not vary (named raters or a constant axis)."""
