"""Prediction on recordings: checkpoints, frame sources, spotting, classification.

:func:`microexpr.experiment.train_final_model` trains the model ``predict``
uses and saves a self-describing checkpoint (:mod:`.checkpoint`); ``predict``
spots micro-expressions in a video, a folder of frames or an onset/apex image
pair, classifies them and writes result.json, a panel per candidate and a
motion-over-time plot.
"""

from microexpr.inference.checkpoint import CheckpointInfo, load_checkpoint, save_checkpoint
from microexpr.inference.predict import CandidateResult, PredictionResult, predict
from microexpr.inference.spotting import Candidate, Spotter, SpottingSettings
from microexpr.inference.video import FrameIssue, InputError, open_source

__all__ = [
    "Candidate",
    "CandidateResult",
    "CheckpointInfo",
    "FrameIssue",
    "InputError",
    "PredictionResult",
    "Spotter",
    "SpottingSettings",
    "load_checkpoint",
    "open_source",
    "predict",
    "save_checkpoint",
]
