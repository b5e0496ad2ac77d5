"""Streaming frame sources: a video file, a folder of frames, an image pair.

Every source yields :class:`Frame` objects one at a time, as grayscale uint8
arrays, and never holds more than the frame it is yielding, so memory does
not grow with the length of the recording. Frames that cannot be decoded are
skipped and reported in the source's ``issues`` with their frame number; the
frame numbers of the frames that follow keep their place in the recording.

Frame numbers are 0-based positions in the recording (for a folder, in the
natural order of the file names: ``img2.jpg`` before ``img10.jpg``).

Videos are decoded in a thread of their own, a few frames ahead of the
consumer (a bounded queue), so decoding overlaps face tracking and flow.
Frame times come from the container's timestamps (variable frame rate is
detected and reported in ``notes``), and frames of a video whose metadata
says it is rotated are turned upright (OpenCV applies the rotation; the
source says so in ``notes``).
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from microexpr.data.records import IMAGE_SUFFIXES
from microexpr.errors import ClipError, InputError
from microexpr.preprocess.frames import read_frame, to_gray

__all__ = [
    "VIDEO_SUFFIXES",
    "Frame",
    "FrameIssue",
    "FrameSource",
    "FolderSource",
    "ImagePairSource",
    "InputError",
    "VideoSource",
    "open_source",
]

#: File suffixes opened as videos.
VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm"})

#: Frame rate assumed for frame folders and image pairs when none is given.
DEFAULT_FPS = 30.0

_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes
    ----------
    index : int
        0-based frame number in the recording.
    time_s : float
        Time of the frame in seconds (``index / fps``).
    image : ndarray of shape (H, W), uint8
        Grayscale frame.
    name : str
        File name for frame folders and image pairs, empty for videos.
    """

    index: int
    time_s: float
    image: np.ndarray = field(repr=False)
    name: str = ""


@dataclass(frozen=True)
class FrameIssue:
    """A problem with one frame or a run of frames.

    Attributes
    ----------
    first, last : int
        Frame numbers of the first and last frame concerned (equal for one).
    problem : str
        What is wrong, in a few words.
    """

    first: int
    last: int
    problem: str

    def describe(self, fps: float | None = None) -> str:
        """The issue as one sentence with frame numbers (and times when ``fps`` is known)."""
        where = (
            f"frame {self.first}" if self.first == self.last else f"frames {self.first}-{self.last}"
        )
        if fps:
            where += f" ({self.first / fps:.2f} s)"
        return f"{where}: {self.problem}"


class FrameSource:
    """Base class of the frame sources.

    Attributes
    ----------
    path : str
        What was opened, for messages.
    kind : str
        ``video``, ``frames`` or ``pair``.
    fps : float
        Frame rate (from the video, or given, or :data:`DEFAULT_FPS`).
    n_frames : int or None
        Number of frames announced by the container or the folder.
    issues : list of FrameIssue
        Frames that could not be read, filled while iterating.
    notes : list of str
        Handled peculiarities of the input (rotation, variable frame rate).
    """

    kind = "frames"

    def __init__(self, path: str, fps: float, n_frames: int | None) -> None:
        self.path = path
        self.fps = fps
        self.n_frames = n_frames
        self.issues: list[FrameIssue] = []
        self.notes: list[str] = []

    def __iter__(self) -> Iterator[Frame]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def display_name(self) -> str:
        """Short name of the input for titles and messages."""
        return Path(self.path).name

    def _frame(self, index: int, image: np.ndarray, name: str = "") -> Frame:
        return Frame(index, index / self.fps, image, name)


class VideoSource(FrameSource):
    """Frames of a video file, decoded one at a time with ``cv2.VideoCapture``.

    A frame the decoder rejects is reported and skipped. After ``max_skip``
    failures in a row the video is taken to have ended; if that happens
    before the frame count the container announces, the truncation is
    reported too.

    Parameters
    ----------
    path : str or Path
        Video file (mp4, mov, avi...).
    max_skip : int
        Consecutive undecodable frames after which reading stops.
    prefetch : int
        Frames decoded ahead by the decoding thread (0: decode in the
        caller's thread).

    Attributes
    ----------
    rotation : int
        Rotation in degrees the metadata asks for (0, 90, 180, 270); the
        frames are yielded upright.
    size : tuple of int
        ``(width, height)`` of the upright frames.

    Raises
    ------
    InputError
        If the file is missing or OpenCV cannot decode any frame of it.
    """

    kind = "video"

    def __init__(self, path: str | Path, *, max_skip: int = 8, prefetch: int = 8) -> None:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"input {str(p)!r} does not exist")
        capture = cv2.VideoCapture(str(p))
        if not capture.isOpened():
            raise InputError(f"input {str(p)!r} is not a readable video (OpenCV cannot open it)")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.rotation = int(capture.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360
        capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        # the upright size from a decoded frame: whether the width and height
        # properties already account for the rotation depends on the backend
        ok, first = capture.read()
        if ok and first is not None and first.size:
            height, width = first.shape[:2]
        else:
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        capture.release()
        super().__init__(
            str(p), fps if 0 < fps < 10000 else DEFAULT_FPS, count if count > 0 else None
        )
        self.size = (width, height)
        self.max_skip = max_skip
        self.prefetch = prefetch
        self.variable_rate = False
        if self.rotation:
            self.notes.append(
                f"the video's metadata rotates it by {self.rotation} degrees: "
                f"frames turned upright ({self.size[0]}x{self.size[1]})"
            )

    def _decode(self) -> Iterator[tuple[bool, np.ndarray | None, float]]:
        # (ok, grayscale frame, timestamp in ms) for each read, in this thread
        capture = cv2.VideoCapture(self.path)
        # OpenCV turns frames upright by the metadata; say so explicitly
        capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        try:
            while True:
                ok, image = capture.read()
                if ok and image is not None and image.size:
                    gray = to_gray(image, order="bgr")
                    yield True, gray, float(capture.get(cv2.CAP_PROP_POS_MSEC))
                else:
                    yield False, None, float("nan")
        finally:
            capture.release()

    def _reads(self) -> Iterator[tuple[bool, np.ndarray | None, float]]:
        if self.prefetch <= 0:
            yield from self._decode()
            return
        # decoding in a thread of its own (OpenCV releases the GIL), a bounded
        # queue ahead of the consumer: memory stays flat
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        limit = self.max_skip

        def work() -> None:
            failed = 0
            try:
                for item in self._decode():
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                    failed = 0 if item[0] else failed + 1
                    if failed >= limit:
                        break
            except Exception as exc:  # pragma: no cover - reported in the consumer
                q.put(exc)
                return
            q.put(None)

        thread = threading.Thread(target=work, name="microexpr-decode", daemon=True)
        thread.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, Exception):  # pragma: no cover
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    q.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.05)

    def __iter__(self) -> Iterator[Frame]:
        self.issues = []
        index = 0
        decoded = 0
        failed: list[int] = []
        reads = self._reads()
        last_time = -1.0
        step = 1.0 / self.fps
        try:
            for ok, image, msec in reads:
                if ok and image is not None:
                    if failed:
                        self.issues.append(
                            FrameIssue(failed[0], failed[-1], "undecodable (corrupt data), skipped")
                        )
                        failed = []
                    decoded += 1
                    # the container's timestamp (variable frame rate); index / fps
                    # where it has none or it does not increase
                    t = msec / 1000.0 if np.isfinite(msec) and msec > 0 else index * step
                    if index > 0 and t <= last_time:
                        t = index * step
                    if not self.variable_rate and abs(t - index * step) > 1.5 * step:
                        self.variable_rate = True
                        self.notes.append(
                            f"variable frame rate: frame {index} is at {t:.3f} s, not "
                            f"{index * step:.3f} s as {self.fps:g} fps would put it; times "
                            "are taken from the video's timestamps"
                        )
                    last_time = t
                    yield Frame(index, t, image)
                else:
                    # OpenCV's position does not count a frame it failed to decode: count it here
                    failed.append(index)
                    if len(failed) >= self.max_skip or (
                        self.n_frames is not None and index + 1 >= self.n_frames
                    ):
                        break
                index += 1
        finally:
            reads.close()
        if decoded == 0:
            raise InputError(
                f"input {self.path!r} is not a readable video (no frame could be decoded)"
            )
        end = failed[0] if failed else index
        midstream = [i for i in self.issues if i.last < end]
        if self.n_frames is not None and end < self.n_frames and midstream:
            # OpenCV's FFmpeg reader can lose the frame after an undecodable one
            # without saying so; the shortfall at the end is the only trace of it
            first_bad = midstream[0].first
            self.issues.append(
                FrameIssue(
                    end,
                    self.n_frames - 1,
                    f"missing at the end ({self.n_frames} announced); the decoder may have "
                    f"dropped frames next to undecodable frame {first_bad}, so frame numbers "
                    f"after {first_bad} can be up to {self.n_frames - end} too low",
                )
            )
        elif self.n_frames is not None and end == self.n_frames - 1:
            self.issues.append(FrameIssue(end, end, "undecodable (corrupt data), skipped"))
        elif self.n_frames is not None and end < self.n_frames - 1:
            self.issues.append(
                FrameIssue(
                    end,
                    self.n_frames - 1,
                    f"video ends early: the file announces {self.n_frames} frames, "
                    f"only frames before {end} could be read (truncated or corrupt file)",
                )
            )


def _natural_key(path: Path) -> tuple[object, ...]:
    return tuple(int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(path.name))


def _read_image(path: Path) -> np.ndarray | None:
    try:
        return read_frame(path)
    except ClipError:
        return None


class FolderSource(FrameSource):
    """Image files of a folder, in natural order of their names.

    Parameters
    ----------
    folder : str or Path
        Folder holding one image file per frame.
    fps : float, optional
        Frame rate of the recording (:data:`DEFAULT_FPS` when not given).

    Raises
    ------
    InputError
        If the folder holds no image file.
    """

    kind = "frames"

    def __init__(self, folder: str | Path, *, fps: float | None = None) -> None:
        p = Path(folder)
        files = sorted(
            (f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES),
            key=_natural_key,
        )
        if not files:
            raise InputError(
                f"input folder {str(p)!r} holds no image files "
                f"(looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        super().__init__(str(p), fps or DEFAULT_FPS, len(files))
        self.files = files

    def __iter__(self) -> Iterator[Frame]:
        self.issues = []
        for index, file in enumerate(self.files):
            image = _read_image(file)
            if image is None:
                self.issues.append(
                    FrameIssue(index, index, f"file {file.name} is not a readable image")
                )
                continue
            yield self._frame(index, image, file.name)


class ImagePairSource(FrameSource):
    """An onset image and an apex image (frames 0 and 1).

    Raises
    ------
    InputError
        If either file is missing or not a readable image.
    """

    kind = "pair"

    def __init__(self, onset: str | Path, apex: str | Path, *, fps: float | None = None) -> None:
        self.files = [Path(onset), Path(apex)]
        for role, f in zip(("onset", "apex"), self.files, strict=True):
            if not f.is_file():
                raise InputError(f"{role} image {str(f)!r} does not exist")
        super().__init__(f"{self.files[0]} + {self.files[1]}", fps or DEFAULT_FPS, 2)

    @property
    def display_name(self) -> str:
        """``onset.png + apex.png``."""
        return f"{self.files[0].name} + {self.files[1].name}"

    def __iter__(self) -> Iterator[Frame]:
        self.issues = []
        images = []
        for role, f in zip(("onset", "apex"), self.files, strict=True):
            image = _read_image(f)
            if image is None:
                raise InputError(f"{role} image {str(f)!r} is not a readable image")
            images.append(image)
        if images[0].shape != images[1].shape:
            raise InputError(
                f"onset image {images[0].shape[::-1]} and apex image {images[1].shape[::-1]} "
                "differ in size (width, height)"
            )
        for index, (image, f) in enumerate(zip(images, self.files, strict=True)):
            yield self._frame(index, image, f.name)


def open_source(
    source: str | Path | Sequence[str | Path], *, fps: float | None = None
) -> FrameSource:
    """Open a video file, a frame folder or an (onset, apex) image pair.

    Parameters
    ----------
    source : str, Path or sequence of two
        A video file, a folder of frames, or two image files (onset, apex).
    fps : float, optional
        Frame rate of a folder or pair (videos carry their own).

    Raises
    ------
    InputError
        If the input does not exist or is not one of the three kinds.
    """
    if not isinstance(source, (str, Path)):
        paths = [Path(s) for s in source]
        if len(paths) == 1:
            return open_source(paths[0], fps=fps)
        if len(paths) != 2:
            raise InputError(
                f"give one video or folder, or two images (onset, apex); got {len(paths)} inputs"
            )
        return ImagePairSource(paths[0], paths[1], fps=fps)
    p = Path(source)
    if not p.exists():
        raise InputError(f"input {str(p)!r} does not exist")
    if p.is_dir():
        return FolderSource(p, fps=fps)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(
            f"input {str(p)!r} is a single image; give the onset and the apex image "
            "(two inputs), a folder of frames, or a video"
        )
    return VideoSource(p)
