"""The preprocessing pipeline of SPEC section 2, clip by clip.

onset and apex frames -> dlib landmarks on the onset frame -> one alignment
for the clip -> 128x128 grayscale crops of onset and apex -> TV-L1 flow
(u, v) from onset to apex -> optical strain. Results are cached on disk keyed
by the settings and by the content of the onset and apex files (see
:mod:`microexpr.preprocess.cache`); a clip that fails (unreadable frame, no
face) is reported with the reason and skipped, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from microexpr.data.records import ClipIssue, ClipRecord
from microexpr.errors import ClipError, ClipFaceError, ConfigError, FaceNotFoundError
from microexpr.preprocess.alignment import AlignmentSettings, apply_alignment, estimate_alignment
from microexpr.preprocess.cache import FeatureCache, source_fingerprint
from microexpr.preprocess.face import LandmarkDetector
from microexpr.preprocess.flow import FlowSettings, tvl1_flow
from microexpr.preprocess.frames import read_frame
from microexpr.preprocess.strain import optical_strain

__all__ = [
    "FEATURE_KINDS",
    "ClipFeatures",
    "FeatureSet",
    "PreprocessSettings",
    "model_inputs",
    "preprocess_clip",
    "preprocess_pair",
    "preprocess_records",
    "read_frame",
]

#: Bumped whenever the same settings would give other features (2: frames read
#: through :func:`microexpr.preprocess.frames.read_frame`, decoded in colour).
PIPELINE_VERSION = 2

#: Model input kinds and the feature channels they stack.
FEATURE_KINDS: dict[str, tuple[str, ...]] = {
    "uvs": ("u", "v", "strain"),
    "uv": ("u", "v"),
    "apex": ("apex",),
    "onset_apex": ("onset", "apex"),
}


@dataclass(frozen=True)
class PreprocessSettings:
    """Settings of the preprocessing pipeline.

    Attributes
    ----------
    size : int
        Side of the aligned face crop (128 in the paper).
    alignment : AlignmentSettings
        Crop geometry (its ``size`` is overridden by ``size``).
    flow : FlowSettings
        TV-L1 parameters.
    upsample : int
        dlib detector upsampling (1 finds faces down to ~40 px).
    face_detection : str
        ``detect`` (find the face: HOG, padded HOG, CNN fallback) or
        ``full_frame`` (the frames are pre-cropped faces: the image is the
        face box, as in CASME II's "Cropped" layout).
    """

    size: int = 128
    alignment: AlignmentSettings = field(default_factory=AlignmentSettings)
    flow: FlowSettings = field(default_factory=FlowSettings)
    upsample: int = 1
    face_detection: str = "detect"

    def __post_init__(self) -> None:
        if self.face_detection not in ("detect", "full_frame"):
            raise ConfigError(
                f"preprocess.face_detection == {self.face_detection!r}, "
                "must be 'detect' or 'full_frame'"
            )
        if not isinstance(self.size, int) or self.size < 16:
            raise ConfigError(f"preprocess.size == {self.size!r}, must be an integer >= 16")
        if self.alignment.size != self.size:
            object.__setattr__(
                self,
                "alignment",
                AlignmentSettings(
                    self.size, self.alignment.eye_distance, self.alignment.eye_height
                ),
            )

    def as_dict(self) -> dict[str, object]:
        """Settings as a plain dict, with the pipeline version (the cache key)."""
        d = {"version": PIPELINE_VERSION, **asdict(self)}
        if d["face_detection"] == "detect":
            del d["face_detection"]  # the default: cache keys made before it stay valid
        return d

    def detector(self) -> LandmarkDetector:
        """The face detector these settings ask for."""
        return LandmarkDetector(
            self.upsample, face_box="full" if self.face_detection == "full_frame" else "detect"
        )


@dataclass
class ClipFeatures:
    """Features of one clip, each (size, size).

    Attributes
    ----------
    onset, apex : ndarray, uint8
        Aligned grayscale crops.
    u, v : ndarray, float32
        TV-L1 flow from onset to apex, in pixels of the crop.
    strain : ndarray, float32
        Optical strain magnitude.
    """

    onset: np.ndarray
    apex: np.ndarray
    u: np.ndarray
    v: np.ndarray
    strain: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        """The features by name."""
        return {
            "onset": self.onset,
            "apex": self.apex,
            "u": self.u,
            "v": self.v,
            "strain": self.strain,
        }

    def stack(self, kind: str) -> np.ndarray:
        """Model input of ``kind`` for this clip, shape (C, size, size), float32."""
        return model_inputs([self], kind)[0]


def preprocess_pair(
    onset: np.ndarray,
    apex: np.ndarray,
    settings: PreprocessSettings,
    detector: LandmarkDetector | None = None,
    *,
    landmarks: np.ndarray | None = None,
) -> ClipFeatures:
    """Align an onset/apex pair with one transform and compute flow and strain.

    Parameters
    ----------
    onset, apex : ndarray
        Frames (grayscale or RGB) of the same size.
    settings : PreprocessSettings
    detector : LandmarkDetector, optional
        Created when not given.
    landmarks : ndarray of shape (68, 2), optional
        Onset landmarks, when already known (skips detection).

    Raises
    ------
    FaceNotFoundError
        If no face is found on the onset frame.
    """
    if landmarks is None:
        detector = detector or settings.detector()
        landmarks = detector.landmarks(onset)
    matrix = estimate_alignment(landmarks, settings.alignment)
    onset_crop = apply_alignment(onset, matrix, settings.size)
    apex_crop = apply_alignment(apex, matrix, settings.size)
    flow = tvl1_flow(onset_crop, apex_crop, settings.flow)
    return ClipFeatures(
        onset=onset_crop,
        apex=apex_crop,
        u=flow[0],
        v=flow[1],
        strain=optical_strain(flow[0], flow[1]),
    )


def preprocess_clip(
    record: ClipRecord, settings: PreprocessSettings, detector: LandmarkDetector | None = None
) -> ClipFeatures:
    """Features of one clip record.

    Raises
    ------
    ClipFaceError
        When no face is found on the onset frame.
    ClipError
        With the clip key and the reason, when the clip cannot be used otherwise.
    """
    for role, number in (("onset", record.onset), ("apex", record.apex)):
        if number not in record.frames:
            raise ClipError(record.key, f"{role} frame {number} not found on disk")
    onset_path = record.frame_path(record.onset)
    apex_path = record.frame_path(record.apex)
    try:
        onset = read_frame(onset_path)
        apex = read_frame(apex_path)
    except ClipError as exc:
        raise ClipError(record.key, f"{exc.reason}: {exc.clip}") from None
    if onset.shape != apex.shape:
        raise ClipError(record.key, f"onset {onset.shape} and apex {apex.shape} differ in size")
    try:
        return preprocess_pair(onset, apex, settings, detector)
    except FaceNotFoundError:
        raise ClipFaceError(record.key, f"no face found on onset frame {onset_path}") from None


def model_inputs(features: Sequence[ClipFeatures | dict[str, np.ndarray]], kind: str) -> np.ndarray:
    """Stack the features of ``kind`` for many clips, shape (n_clips, C, H, W), float32.

    Flow and strain are in pixels; grayscale frames are scaled to 0..1.
    """
    if kind not in FEATURE_KINDS:
        raise ConfigError(f"input kind must be one of {sorted(FEATURE_KINDS)}, got {kind!r}")
    names = FEATURE_KINDS[kind]
    out = []
    for f in features:
        arrays = f.arrays() if isinstance(f, ClipFeatures) else f
        channels = []
        for name in names:
            a = np.asarray(arrays[name], dtype=np.float32)
            channels.append(a / 255.0 if name in ("onset", "apex") else a)
        out.append(np.stack(channels))
    if not out:
        return np.zeros((0, len(names), 0, 0), dtype=np.float32)
    return np.stack(out).astype(np.float32, copy=False)


@dataclass
class FeatureSet:
    """Features of the usable clips of a dataset, and what was skipped.

    Attributes
    ----------
    records : list of ClipRecord
        Clips with features, in input order.
    features : list of dict
        Arrays of each clip (``onset``, ``apex``, ``u``, ``v``, ``strain``).
    issues : list of ClipIssue
        Clips skipped, with reasons.
    """

    records: list[ClipRecord]
    features: list[dict[str, np.ndarray]]
    issues: list[ClipIssue]

    def inputs(self, kind: str) -> np.ndarray:
        """Model inputs, shape (n_clips, C, H, W)."""
        return model_inputs(self.features, kind)

    @property
    def labels(self) -> np.ndarray:
        """Class index of each clip, shape (n_clips,)."""
        return np.array([r.label for r in self.records], dtype=np.int64)

    @property
    def groups(self) -> list[str]:
        """LOSO subject key of each clip."""
        return [r.group for r in self.records]


def _fingerprint(record: ClipRecord) -> str | None:
    # what the features depend on besides the settings: the onset and apex files
    if record.onset not in record.frames or record.apex not in record.frames:
        return None
    return source_fingerprint(
        {
            "onset": (record.onset, record.frames[record.onset]),
            "apex": (record.apex, record.frames[record.apex]),
        }
    )


def preprocess_records(
    records: Sequence[ClipRecord],
    settings: PreprocessSettings,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> FeatureSet:
    """Preprocess many clips, reusing and filling the cache.

    Parameters
    ----------
    records : sequence of ClipRecord
    settings : PreprocessSettings
    cache_dir : str or Path, optional
        Feature cache folder; no caching when None.
    progress : bool
        Show a progress bar.

    Returns
    -------
    FeatureSet
        Bad clips are reported in ``issues`` and left out; the run goes on.
    """
    cache = FeatureCache(cache_dir, settings.as_dict()) if cache_dir is not None else None
    detector: LandmarkDetector | None = None
    kept: list[ClipRecord] = []
    feats: list[dict[str, np.ndarray]] = []
    issues: list[ClipIssue] = []
    for record in tqdm(records, desc="preprocess", unit="clip", disable=not progress):
        arrays = None
        fingerprint = None
        if cache is not None:
            fingerprint = _fingerprint(record)
            if fingerprint is not None:
                arrays = cache.load(record.key, fingerprint)
        if arrays is None:
            if detector is None:
                detector = settings.detector()
            try:
                arrays = preprocess_clip(record, settings, detector).arrays()
            except ClipFaceError as exc:  # by type, never by the message's text
                issues.append(ClipIssue(record.key, exc.reason, stage="face"))
                continue
            except ClipError as exc:
                issues.append(ClipIssue(record.key, exc.reason, stage="frames"))
                continue
            if cache is not None and fingerprint is not None:
                cache.save(record.key, arrays, fingerprint)
        kept.append(record)
        feats.append(arrays)
    return FeatureSet(kept, feats, issues)
