"""Models: ATSCNN and the baselines it is compared with, in one registry."""

from microexpr.models import atscnn  # noqa: F401  (registers the models)
from microexpr.models._registry import create_model, is_model, list_models, register_model
from microexpr.models.atscnn import ATSCNN

__all__ = ["ATSCNN", "create_model", "is_model", "list_models", "register_model"]
