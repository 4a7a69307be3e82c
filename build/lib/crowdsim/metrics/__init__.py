"""Measurement: hourly recording, run summaries (Hara et al. 2018 definitions) and invariant checks."""
