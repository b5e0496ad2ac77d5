"""Preprocessing: face landmarks, alignment, TV-L1 flow, optical strain, feature cache."""
