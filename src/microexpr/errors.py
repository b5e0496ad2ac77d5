"""Error and warning classes raised by microexpr.

Every error the library raises on bad input derives from :class:`MicroexprError`,
so that the command line can turn it into one printed line and an exit code.
"""

from __future__ import annotations

__all__ = [
    "MicroexprError",
    "ConfigError",
    "DatasetNotFoundError",
    "AnnotationError",
    "ClipError",
    "ClipFaceError",
    "FaceNotFoundError",
    "WeightsError",
    "RunFolderError",
    "InputError",
    "MicroexprWarning",
]


class MicroexprError(Exception):
    """Base class of the errors microexpr raises on bad input or state."""


class ConfigError(MicroexprError, ValueError):
    """A configuration value or file is invalid."""


class DatasetNotFoundError(MicroexprError, FileNotFoundError):
    """A dataset root does not exist or does not look like the dataset."""


class AnnotationError(MicroexprError, ValueError):
    """An annotation sheet cannot be parsed (unknown layout or columns)."""


class ClipError(MicroexprError):
    """One clip cannot be used; the run reports it and goes on.

    Parameters
    ----------
    clip : str
        Identifier of the clip, as ``dataset/subject/clip``.
    reason : str
        What is wrong, in one sentence.
    """

    def __init__(self, clip: str, reason: str) -> None:
        super().__init__(f"{clip}: {reason}")
        self.clip = clip
        self.reason = reason


class ClipFaceError(ClipError):
    """One clip cannot be used because no face was found on its onset frame.

    A :class:`ClipError` subclass, so that the runs that skip bad clips tell
    a face problem from a frame problem by the error's type.
    """


class FaceNotFoundError(MicroexprError):
    """No face was found in an image."""


class WeightsError(MicroexprError):
    """A weights or checkpoint file does not fit the model it is loaded into."""


class RunFolderError(MicroexprError):
    """A run folder holds results of another configuration, or is unusable."""


class InputError(MicroexprError):
    """An input file or folder (video, frames, images) cannot be read."""


class MicroexprWarning(UserWarning):
    """Warning category of microexpr (skipped clips, fallbacks)."""
