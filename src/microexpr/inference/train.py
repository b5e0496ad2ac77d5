"""Compatibility home of :func:`train_final_model`, which lives beside ``run_loso``.

The final model is trained by :func:`microexpr.experiment.train_final_model`
(all usable clips, fixed epochs, the model of the last epoch saved); this
module re-exports it and :class:`~microexpr.experiment.TrainResult` so that
``from microexpr.inference.train import train_final_model`` keeps working.
"""

from __future__ import annotations

from microexpr.experiment import TrainResult, train_final_model

__all__ = ["TrainResult", "train_final_model"]
