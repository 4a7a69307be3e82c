"""Sweeps: the Hydra app and its job, sweep folders, the grid runner every study uses, the multirun callback and aggregation."""
