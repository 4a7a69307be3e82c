"""crowdsim: an agent-based model of crowd-work (micro-task) markets on Mesa, run through Hydra."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("crowdsim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from crowdsim.config import ConfigError, CrowdSimConfig  # noqa: E402

# `run` is bound here, not lazily: importing the submodule crowdsim.run would otherwise leave the
# module, not the function, as `crowdsim.run` (crowdsim.run imports no model code).
from crowdsim.run import run  # noqa: E402

# Imported when first used (PEP 562), so that `crowdsim --help`, `--version` and shell completion
# do not load numba, Mesa and pandas: `from crowdsim import CrowdWorkModel` works as before.
_LAZY = {
    "Requester": "crowdsim.agents",
    "Worker": "crowdsim.agents",
    "Results": "crowdsim.metrics.summary",
    "CrowdWorkModel": "crowdsim.model",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crowdsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "ConfigError",
    "CrowdSimConfig",
    "CrowdWorkModel",
    "Requester",
    "Results",
    "Worker",
    "__version__",
    "run",
]
