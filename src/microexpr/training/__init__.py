"""Training: the fit loop, the LOSO experiment engine and its executors."""

from microexpr.training.trainer import TrainSettings, fit, predict_proba, seed_everything

__all__ = ["TrainSettings", "fit", "predict_proba", "seed_everything"]
