"""microexpr: facial micro-expression recognition with ATSCNN and its baselines."""

__version__ = "0.1.0"
