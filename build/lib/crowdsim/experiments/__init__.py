"""Experiments: comparisons, sweeps and their aggregation, calibration, validation, sensitivity."""
