"""The built-in synthetic micro-expression dataset (the default of ``microexpr demo``)."""

from microexpr.synthetic.generator import (
    GENERATOR_VERSION,
    SyntheticSettings,
    generate_synthetic_dataset,
    load_ground_truth_landmarks,
)

__all__ = [
    "GENERATOR_VERSION",
    "SyntheticSettings",
    "generate_synthetic_dataset",
    "load_ground_truth_landmarks",
]
