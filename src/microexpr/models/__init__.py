"""Models: ATSCNN and the baselines it is compared with, in one registry."""

# importing each model file registers its entry points
from microexpr.models import (  # noqa: F401
    aorcnn,
    atscnn,
    dual_inception,
    macnn,
    micro_attention,
    off_apexnet,
    off_tanet,
    ststnet,
)
from microexpr.models._registry import (
    ModelSpec,
    create_model,
    get_model_cfg,
    is_model,
    list_models,
    model_entrypoint,
    register_model,
)
from microexpr.models.atscnn import ATSCNN

__all__ = [
    "ATSCNN",
    "ModelSpec",
    "create_model",
    "get_model_cfg",
    "is_model",
    "list_models",
    "model_entrypoint",
    "register_model",
]
