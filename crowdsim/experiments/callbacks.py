"""The multirun callback's import path before crowdsim 0.4, kept for this release only.

The configs that earlier sweeps saved (``.hydra/hydra.yaml``, ``multirun.yaml``) and configs of
users' own (``--config-dir``) may name ``crowdsim.experiments.callbacks.SweepResults``; Hydra
imports the callback by that name. It is :class:`crowdsim.sweeps.callback.SweepResults`.
"""

from crowdsim.sweeps.callback import SweepResults

__all__ = ["SweepResults"]
