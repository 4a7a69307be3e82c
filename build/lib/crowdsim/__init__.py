"""crowdsim: an agent-based model of crowd-work (micro-task) markets on Mesa, run through Hydra."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("crowdsim")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from crowdsim.agents import Requester, Worker  # noqa: E402
from crowdsim.config import ConfigError, CrowdSimConfig  # noqa: E402
from crowdsim.metrics.summary import Results  # noqa: E402
from crowdsim.model import CrowdWorkModel  # noqa: E402
from crowdsim.run import run  # noqa: E402

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
